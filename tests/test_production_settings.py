"""With DEBUG off the app refuses to start without its secrets and turns on the secure defaults."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from .conftest import make_user
from .procs import ROOT, WebServer, child_env

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k) for k in ('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
    "'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', 'DEBUG')}))"
)


def run(
    code: str, *, unset: tuple[str, ...] = (), **env: str | None
) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter under production settings; ``env`` on top (None leaves a
    variable out), variables starting with ``unset`` removed."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG") and not k.startswith(unset or "\0")
    }
    wanted = {"DJANGO_SETTINGS_MODULE": "zzalu.settings.base", "DEBUG": "false", **env}
    clean.update({k: v for k, v in wanted.items() if v is not None})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


# A key as `secrets.token_urlsafe(50)` makes one; fixed so a failure reads the same every run.
GOOD_KEY = "Qm3v9Xr2LpT8wZk4Yd7Hs1Nb6Fc0Jg5Ue2Ra8Vt4Wy9Ok3Pi7Lh1Mz6Xq0Cs5Dn2Bf8Gj4"


def env_example_value(name: str) -> str:
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{name} is not set in .env.example")


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ALLOWED_HOSTS": "zzalu.example"}, "SECRET_KEY"),
        ({"SECRET_KEY": GOOD_KEY}, "ALLOWED_HOSTS"),
    ],
)
def test_debug_off_requires_secret_key_and_allowed_hosts(env, missing):
    result = run("import django; django.setup()", **env)
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "SECRET_KEY is not set"),
        (GOOD_KEY[:49], "SECRET_KEY is too short (49"),
        (env_example_value("SECRET_KEY"), "SECRET_KEY is a placeholder"),
        ("x" * 60, "SECRET_KEY is a placeholder"),
        ("django-insecure-" + GOOD_KEY, "SECRET_KEY is a placeholder"),
    ],
    ids=["empty", "short", "env-example", "one-character", "django-insecure"],
)
def test_debug_off_refuses_a_short_or_placeholder_secret_key(key, problem):
    result = run("import django; django.setup()", SECRET_KEY=key, ALLOWED_HOSTS="zzalu.example")
    assert result.returncode != 0
    assert problem in result.stderr, result.stderr[-2000:]


def test_debug_is_off_unless_asked_for():
    result = run(PROBE, DEBUG=None, SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="zzalu.example")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["DEBUG"] is False


def test_local_development_asks_for_debug_explicitly():
    assert "export DEBUG ?= true" in (ROOT / "Makefile").read_text()
    assert (
        'os.environ.setdefault("DEBUG", "true")'
        in (ROOT / "zzalu" / "settings" / "test.py").read_text()
    )


def test_debug_off_turns_on_secure_cookies_hsts_and_the_proxy_header():
    result = run(PROBE, SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="zzalu.example")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 3600
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_deploy_checks_pass_with_debug_off():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "DJANGO_SETTINGS_MODULE": "zzalu.settings.base",
            "DEBUG": "false",
            "SECRET_KEY": GOOD_KEY,
            "ALLOWED_HOSTS": "zzalu.example",
            "SECURE_SSL_REDIRECT": "true",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
            "SECURE_HSTS_PRELOAD": "true",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_admin_is_for_staff_only(client):
    client.force_login(make_user())
    assert client.get("/admin/").status_code == 302
    client.force_login(make_user(staff=True))
    assert client.get("/admin/").status_code == 200


def test_login_limits_as_shipped():
    """The suite runs with raised limits (zzalu/settings/test.py); a deployment gets these."""
    names = ("LOGIN_FAILURES_PER_ACCOUNT", "LOGIN_FAILURES_PER_ADDRESS", "LOGIN_LOCKOUT_MINUTES")
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps([getattr(s, k) for k in {names!r}] + [s.AXES_FAILURE_LIMIT]))"
    )
    result = run(code, unset=("LOGIN_",), SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="zzalu.example")
    assert result.returncode == 0, result.stderr
    per_account, per_address, minutes, axes_limit = json.loads(result.stdout.splitlines()[-1])
    assert (per_account, per_address, minutes, axes_limit) == (10, 50, 15, 10)


def test_static_files_are_served_with_debug_off(tmp_path):
    """Issue 18: with DEBUG off (as .env.example sets it) every /static/ file was a 404 under
    `make run`. `make setup` collects them, and WhiteNoise serves the collected files."""
    assert "manage.py collectstatic --noinput" in (ROOT / "Makefile").read_text().split("run:")[0]
    env = {"DEBUG": "false", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "127.0.0.1"}
    env["STATIC_ROOT"] = str(tmp_path / "static")
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=child_env(**env), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    web = WebServer("web-debug-off", **env).start()
    try:
        page = urllib.request.urlopen(f"{web.http}/accounts/login/", timeout=10).read().decode()
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
        assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
        for path in {*assets, "/static/js/chat/room.js", "/static/css/app.css"}:
            with urllib.request.urlopen(web.http + path, timeout=10) as response:
                kind = response.headers["Content-Type"]
                assert response.status == 200 and ("css" in kind or "javascript" in kind or
                                                   "image" in kind), (path, kind)  # fmt: skip
    finally:
        web.stop()
