"""Password guessing: django-axes counts failed logins in Redis and refuses the next with 429.

Two limits, one lockout path (the API token, the login page and the admin login alike):
- per account and address: ``LOGIN_FAILURES_PER_ACCOUNT`` failures (axes, keyed on
  [ip_address, username]), so the owner still logs in from anywhere else;
- per address over every account: ``LOGIN_FAILURES_PER_ADDRESS``, higher (addresses are shared
  behind NAT). axes has one limit for all its keys, so this second count is kept beside it by
  the handler below, in the same cache and with the same window.
A failure counts for ``LOGIN_LOCKOUT_MINUTES`` after the last counted one; refused tries (while
locked) are not counted, so the lock lifts when that window has passed.
"""

from __future__ import annotations

import hashlib

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache_timeout
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

LOCKED_DETAIL = "Too many failed logins. Try again later."


def client_address(request) -> str:
    """The client's address exactly as the DRF throttles see it (``NUM_PROXIES``): with 0,
    the socket's peer only, so a client cannot pick its own bucket with X-Forwarded-For."""
    return BaseThrottle().get_ident(request)


class LoginFailureHandler(AxesCacheHandler):
    """axes' cache handler (per account and address), plus the per-address count."""

    def _address_key(self, request) -> str:
        digest = hashlib.sha256(request.axes_ip_address.encode()).hexdigest()[:32]
        return f"login-failures:address:{digest}"

    def _address_failures(self, request) -> int:
        return self.cache.get(self._address_key(request), default=0)

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return (
            super().is_locked(request, credentials)
            or self._address_failures(request) >= settings.LOGIN_FAILURES_PER_ADDRESS
        )

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        refused = request is not None and getattr(request, "axes_locked_out", False)
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or refused or self.is_whitelisted(request, credentials):
            return
        key, timeout = self._address_key(request), get_cache_timeout(request)
        if self.cache.add(key, 1, timeout=timeout):
            failures = 1
        else:
            failures = self.cache.incr(key)
            self.cache.touch(key, timeout=timeout)
        if failures >= settings.LOGIN_FAILURES_PER_ADDRESS:
            request.axes_locked_out = True
            request.axes_credentials = credentials


def is_locked_out(request) -> bool:
    """Whether axes refused (or just locked) this login request; works on DRF requests too."""
    return bool(getattr(request, "axes_locked_out", False))


def locked_out_response(request, original_response=None, credentials=None):
    """429: JSON under /api/, a page saying so elsewhere (axes' AXES_LOCKOUT_CALLABLE)."""
    retry_after = str(get_cache_timeout(request) or 0)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": LOCKED_DETAIL, "code": "locked_out"}, status=429)
    else:
        minutes = settings.LOGIN_LOCKOUT_MINUTES
        response = render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = retry_after
    return response
