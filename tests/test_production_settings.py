"""With DEBUG off the app refuses to start without its secrets and turns on the secure defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import make_user
from .procs import ROOT

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k) for k in ('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
    "'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', 'DEBUG')}))"
)


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG")
    }
    clean.update(DJANGO_SETTINGS_MODULE="zzalu.settings.base", DEBUG="false", **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ALLOWED_HOSTS": "zzalu.example"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS"),
    ],
)
def test_debug_off_requires_secret_key_and_allowed_hosts(env, missing):
    result = run("import django; django.setup()", **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_debug_off_turns_on_secure_cookies_hsts_and_the_proxy_header():
    result = run(PROBE, SECRET_KEY="s" * 50, ALLOWED_HOSTS="zzalu.example")
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
            "SECRET_KEY": "a-long-random-secret-key-for-the-deploy-check-0123456789",
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
