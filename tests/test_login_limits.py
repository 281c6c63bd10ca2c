"""Password guessing is throttled (accounts/lockout.py): the API token, the login page and the
admin login, per account and address and per address in all, with the shipped limits.

Lockouts live in Redis for the whole test session, so every test guesses from addresses and at
accounts of its own.
"""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from .conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1234"  # conftest.make_user's
PER_ACCOUNT, PER_ADDRESS = 10, 50  # the defaults in zzalu/settings/base.py
_hosts = itertools.count(1)

shipped_limits = override_settings(
    LOGIN_FAILURES_PER_ACCOUNT=PER_ACCOUNT,
    AXES_FAILURE_LIMIT=PER_ACCOUNT,
    LOGIN_FAILURES_PER_ADDRESS=PER_ADDRESS,
)


@pytest.fixture(autouse=True)
def _shipped_limits(real_services):  # the counts live in the Redis cache
    with shipped_limits:
        yield


def address() -> str:
    """An address no other test (in this session) guessed from."""
    n = next(_hosts)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def token(username: str, password: str, ip: str, **headers):
    return APIClient().post(
        "/api/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
        **headers,
    )


def page_login(path: str, username: str, password: str, ip: str):
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_api_token_locks_one_account_from_one_address_after_the_limit():
    member, other = make_user(), make_user()
    attacker, owner_elsewhere = address(), address()
    answers = [token(member.username, f"guess-{i}", attacker) for i in range(PER_ACCOUNT + 2)]
    assert [r.status_code for r in answers] == [401] * (PER_ACCOUNT - 1) + [429] * 3
    locked = answers[-1]
    assert locked.json()["code"] == "locked_out"
    assert int(locked["Retry-After"]) == 15 * 60
    # Even the right password is refused from there now ...
    assert token(member.username, PASSWORD, attacker).status_code == 429
    # ... but the owner logs in from anywhere else, and that address may still log others in.
    assert token(member.username, PASSWORD, owner_elsewhere).status_code == 200
    assert token(other.username, PASSWORD, attacker).status_code == 200


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_login_pages_lock_with_a_429_page_in_korean(path):
    member = make_user(staff=True)
    attacker, owner_elsewhere = address(), address()
    statuses = [
        page_login(path, member.username, f"guess-{i}", attacker).status_code
        for i in range(PER_ACCOUNT - 1)
    ]
    assert statuses == [200] * (PER_ACCOUNT - 1)  # the form again, with its error
    locked = page_login(path, member.username, "guess-last", attacker)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "로그인 시도가 너무 많아요" in page and "15분" in page
    assert page_login(path, member.username, PASSWORD, attacker).status_code == 429
    assert page_login(path, member.username, PASSWORD, owner_elsewhere).status_code == 302


def test_one_address_guessing_many_accounts_is_locked_at_the_higher_limit():
    members = [make_user() for _ in range(PER_ADDRESS + 1)]
    attacker = address()
    statuses = [token(m.username, "wrong-password", attacker).status_code for m in members]
    assert statuses == [401] * (PER_ADDRESS - 1) + [429] * 2
    assert token(members[0].username, PASSWORD, attacker).status_code == 429
    assert token(members[0].username, PASSWORD, address()).status_code == 200


def test_a_lockout_ends_when_the_window_has_passed():
    member = make_user()
    attacker = address()
    with override_settings(AXES_COOLOFF_TIME=timedelta(seconds=2)):
        for i in range(PER_ACCOUNT):
            token(member.username, f"guess-{i}", attacker)
        assert token(member.username, PASSWORD, attacker).status_code == 429
        time.sleep(1)  # refused tries do not extend the lockout
        assert token(member.username, PASSWORD, attacker).status_code == 429
        time.sleep(1.5)
        assert token(member.username, PASSWORD, attacker).status_code == 200


def test_the_address_is_read_as_the_drf_throttles_read_it():
    member = make_user()
    attacker = address()
    for i in range(PER_ACCOUNT):
        token(member.username, f"guess-{i}", attacker)
    # NUM_PROXIES=0 (no proxy in front): a made-up X-Forwarded-For picks no new bucket.
    spoofed = token(member.username, PASSWORD, attacker, HTTP_X_FORWARDED_FOR=address())
    assert spoofed.status_code == 429

    proxy, client_a, client_b = address(), address(), address()
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "NUM_PROXIES": 1}):
        for i in range(PER_ACCOUNT):
            token(member.username, f"guess-{i}", proxy, HTTP_X_FORWARDED_FOR=client_a)
        via_a = token(member.username, PASSWORD, proxy, HTTP_X_FORWARDED_FOR=client_a)
        via_b = token(member.username, PASSWORD, proxy, HTTP_X_FORWARDED_FOR=client_b)
    assert (via_a.status_code, via_b.status_code) == (429, 200)


def _rest_framework() -> dict:
    from django.conf import settings

    return settings.REST_FRAMEWORK


def test_a_running_server_answers_the_login_page_lockout_with_429(live):
    """Through Uvicorn (ASGI, axes' async middleware path), with a limit of 3 for speed."""
    import http.cookiejar
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    web = live.start_web("web-login-limits", LOGIN_FAILURES_PER_ACCOUNT="3")
    member = make_user()
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def attempt(password: str) -> tuple[int, str]:
        with opener.open(web.http + "/accounts/login/", timeout=30) as page:
            form = page.read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": csrf, "username": member.username, "password": password}
        ).encode()
        request = urllib.request.Request(
            web.http + "/accounts/login/", data=body, headers={"Referer": web.http + "/"}
        )
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    statuses = [attempt(f"guess-{i}")[0] for i in range(2)]
    assert statuses == [200, 200]
    status, page = attempt("guess-last")
    assert status == 429 and "로그인 시도가 너무 많아요" in page
    assert attempt(PASSWORD)[0] == 429
