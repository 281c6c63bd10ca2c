"""WebSocket authentication: Django's session cookie, or ``?token=<JWT access token>``.

A token that is present but invalid or expired is remembered in ``scope["auth_error"]`` so the
consumer can close with 4401 (rather than silently treating the client as anonymous).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken


@database_sync_to_async
def _user_for_token(raw: str):
    try:
        token = AccessToken(raw)
    except TokenError:
        return None
    user_id = token.get(api_settings.USER_ID_CLAIM)
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


class JWTQueryAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        raw = query.get("token", [None])[0]
        if raw is not None:
            scope = dict(scope)
            user = await _user_for_token(raw)
            if user is None:
                scope["user"] = AnonymousUser()
                scope["auth_error"] = "invalid or expired token"
            else:
                scope["user"] = user
        return await super().__call__(scope, receive, send)


def SocketAuthStack(inner):  # noqa: N802 - reads like Channels' AuthMiddlewareStack
    """Session auth first; a token in the query string, when given, decides instead."""
    return AuthMiddlewareStack(JWTQueryAuthMiddleware(inner))


class BrowserOriginValidator(OriginValidator):
    """Reject cross-site browser sockets; let non-browser clients (no Origin header) through.

    Only browsers send Origin, and only browsers can be tricked into opening a socket with the
    victim's cookies; a script can forge any Origin, so refusing a missing one protects nothing.
    """

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or self.validate_origin(parsed_origin)


def OriginCheck(inner):  # noqa: N802
    return BrowserOriginValidator(inner, settings.ALLOWED_HOSTS)
