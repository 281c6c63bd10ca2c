"""WebSocket authentication: Django's session cookie, or a JWT access token.

The token travels in the ``Sec-WebSocket-Protocol`` header (subprotocols ``["zzalu.bearer",
"<token>"]``; the socket is accepted with ``zzalu.bearer``), which no access log records, or as
``?token=`` for clients that cannot set that header (the stack's access logs drop query strings).
A token that is present but invalid or expired is remembered in ``scope["auth_error"]`` so the
consumer can close with 4401 (rather than silently treating the client as anonymous).

An open socket keeps answering to its member's account: ``members_recheck`` runs every
heartbeat (the sockets of a process that beat within half a second share one database trip) and
names the reason to close (deactivated or deleted, password changed, logged out of the
session the socket came with); a token socket also ends when its token expires, unless the
client sent a fresh token (``token_refresh_expiry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddleware
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.utils.crypto import constant_time_compare
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from .gathered import gathered
from .sql import rows_where_in

BEARER_SUBPROTOCOL = "zzalu.bearer"


@dataclass(frozen=True)
class TokenClaims:
    user_id: Any
    expires_at: float  # Unix time


def token_claims(raw: str) -> TokenClaims | None:
    """The claims of a valid, unexpired access token; None for anything else."""
    try:
        token = AccessToken(raw)
    except TokenError:
        return None
    return TokenClaims(user_id=token.get(api_settings.USER_ID_CLAIM), expires_at=token["exp"])


def _raw_token(scope) -> str | None:
    offered = list(scope.get("subprotocols") or ())
    if BEARER_SUBPROTOCOL in offered:
        at = offered.index(BEARER_SUBPROTOCOL) + 1
        return offered[at] if at < len(offered) else ""
    return parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]


def _active_users(user_ids: list) -> list:
    """The active account of each id (None if there is none): one query for every socket of
    the process opening meanwhile (see zzalu.gathered), written as SQL (zzalu.sql): a crowd
    opening sockets ran it hundreds of times a second."""
    model = get_user_model()
    keys = [_key_or_none(model, user_id) for user_id in user_ids]
    fields = model._meta.concrete_fields
    rows = rows_where_in(
        model, [f.name for f in fields], pk={k for k in keys if k is not None}, is_active=[True]
    )
    attnames = [f.attname for f in fields]
    users = {user.pk: user for user in (model.from_db(DEFAULT_DB_ALIAS, attnames, r) for r in rows)}
    return [users.get(k) for k in keys]


def _key_or_none(model, value):
    try:
        return model._meta.pk.to_python(value)
    except ValidationError:
        return None


_active_user = gathered(_active_users)


class SessionAuthMiddleware(AuthMiddleware):
    """Channels' AuthMiddleware without its database trip where there is nobody to look up: a
    socket that brings a token (JWTAuthMiddleware decides) or no session."""

    async def resolve_scope(self, scope):
        if _raw_token(scope) is not None or scope["session"].session_key is None:
            scope["user"]._wrapped = AnonymousUser()
            return
        await super().resolve_scope(scope)


class JWTAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        raw = _raw_token(scope)
        if raw is not None:
            scope = dict(scope)
            if BEARER_SUBPROTOCOL in (scope.get("subprotocols") or ()):
                # Browsers fail a handshake that does not answer the offered subprotocol, so it
                # is answered even when the token is refused (the client then sees 4401).
                scope["auth_subprotocol"] = BEARER_SUBPROTOCOL
            claims = token_claims(raw)
            user = None if claims is None else await _active_user(claims.user_id)
            if user is None:
                scope["user"] = AnonymousUser()
                scope["auth_error"] = "invalid or expired token"
            else:
                scope["user"] = user
                scope["token_expires_at"] = claims.expires_at
        return await super().__call__(scope, receive, send)


class ReadOnlySessionMiddleware(SessionMiddleware):
    """Channels' SessionMiddleware without its send wrapper: sockets read the session (whose
    socket it is) and never change it, and the wrapper looked at the session on every frame
    sent — a tenth of a delivery's cost in a big room."""

    async def __call__(self, scope, receive, send):
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def SocketAuthStack(inner):  # noqa: N802 - reads like Channels' AuthMiddlewareStack
    """Session auth first; a token, when given, decides instead."""
    return CookieMiddleware(
        ReadOnlySessionMiddleware(SessionAuthMiddleware(JWTAuthMiddleware(inner)))
    )


# --- re-checking an open socket's member -------------------------------------------------------


@dataclass
class SocketMember:
    """What an open socket remembers about its member, to re-check every heartbeat."""

    user_id: Any
    auth_hash: str  # user.get_session_auth_hash() at connect: it changes with the password
    session_key: str | None = None  # session-cookie sockets
    token_expires_at: float | None = None  # token sockets; moved on by auth.refresh


def socket_member(scope) -> SocketMember | None:
    """The member a just-authenticated socket belongs to; None for an anonymous socket."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None
    member = SocketMember(user_id=user.pk, auth_hash=user.get_session_auth_hash())
    if "token_expires_at" in scope:
        member.token_expires_at = scope["token_expires_at"]
    elif scope.get("session") is not None:
        member.session_key = scope["session"].session_key
    return member


def members_recheck(members: list[SocketMember]) -> list[str | None]:
    """Why each member may no longer use their socket (the close reason), or None; one query
    for the accounts, however many sockets.

    Session sockets answer to their session as a page request does (it must still exist, name
    the member and carry the current password hash: logout and password changes end it);
    token sockets answer to the password hash they opened with.
    """
    users = get_user_model()._default_manager.in_bulk({m.user_id for m in members})
    return [_recheck(member, users.get(member.user_id)) for member in members]


def _recheck(member: SocketMember, user) -> str | None:
    if user is None or not user.is_active:
        return "account deactivated"
    current = user.get_session_auth_hash()
    if member.session_key is None:
        return None if constant_time_compare(member.auth_hash, current) else "password changed"
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=member.session_key)
    session = store.load()
    if session.get(SESSION_KEY) != user._meta.pk.value_to_string(user):
        return "logged out"
    stored = session.get(HASH_SESSION_KEY) or ""
    hashes = [current, *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(stored, h) for h in hashes):
        return "password changed"
    return None


def token_refresh_expiry(member: SocketMember, raw: Any) -> float | None:
    """The socket's new expiry if ``raw`` is a valid access token for its member, else None.

    The password hash the socket opened with still decides: after a password change the
    socket closes at the next heartbeat whatever token it was given.
    """
    if not isinstance(raw, str) or member.token_expires_at is None:
        return None
    claims = token_claims(raw)
    if claims is None or str(claims.user_id) != str(member.user_id):
        return None
    return max(member.token_expires_at, claims.expires_at)


# --- origin ---------------------------------------------------------------------------------------


class BrowserOriginValidator(OriginValidator):
    """Reject cross-site browser sockets; let non-browser clients (no Origin header) through.

    Only browsers send Origin, and only browsers can be tricked into opening a socket with the
    victim's cookies; a script can forge any Origin, so refusing a missing one protects nothing.
    """

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or self.validate_origin(parsed_origin)


def OriginCheck(inner):  # noqa: N802
    return BrowserOriginValidator(inner, settings.ALLOWED_HOSTS)
