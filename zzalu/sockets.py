"""What every app socket shares: JSON envelopes in and out, errors as frames, close codes,
the caps on concurrent sockets and the member re-check.

Subclasses implement ``open`` (after authentication), ``receive_envelope`` (one ``type`` switch)
and group handlers named after the group message types.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import HttpHeaders
from redis import RedisError
from rest_framework.throttling import BaseThrottle

from . import envelope, metrics
from .errors import ServiceError
from .gathered import gathered
from .kafka import KafkaRejected, KafkaUnavailable
from .ratelimit import socket_slot_release, socket_slot_renew, socket_slot_take
from .text import CLIENT_MSG_ID, TextError, clean_text
from .wire import direct_writer, shared_frame
from .ws_auth import members_recheck, socket_member, token_refresh_expiry

logger = logging.getLogger(__name__)

CLOSE_INVALID_TOKEN = 4401  # also: the member's account, password or session changed
CLOSE_FORBIDDEN = 4403  # kicked or banned from the room
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Every socket path no app serves: closed with 4404 (Channels' router would fail the
    handshake with an HTTP 500)."""

    async def connect(self):
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND, reason="no such socket")


# 2,000 sockets beating every 20 s re-check their members in 2 queries a second, not 100.
member_recheck = gathered(members_recheck, 0.5)


class ClientError(Exception):
    """Something the client sent cannot be served; becomes one ``error`` frame."""

    def __init__(self, code: str, detail: str, client_msg_id: str | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_msg_id = client_msg_id


def error_frame(
    *, code: str, detail: str, client_msg_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    frame = envelope.make("error", code=code, detail=detail, **extra)
    if client_msg_id is not None:
        frame["client_msg_id"] = client_msg_id
    return frame


def client_address(scope) -> str:
    """The client's address exactly as the API's throttles see it: DRF's own rule
    (``NUM_PROXIES``) applied to the socket's handshake."""
    handshake = SimpleNamespace(
        META={"REMOTE_ADDR": (scope.get("client") or ("unknown",))[0]},
        headers=HttpHeaders(
            {f"HTTP_{k.decode('latin-1').upper().replace('-', '_')}": v.decode("latin-1")
             for k, v in scope.get("headers") or ()}
        ),
    )  # fmt: skip
    return BaseThrottle().get_ident(handshake)


def client_msg_id_of(content: dict[str, Any]) -> str | None:
    """The frame's client_msg_id to echo in an answer; None when it breaks the text rule."""
    try:
        return clean_text(content.get("client_msg_id"), CLIENT_MSG_ID)
    except TextError:
        return None


class EnvelopeConsumer(AsyncWebsocketConsumer):
    # Message types whose handlers touch the database only through database_sync_to_async
    # (or not at all: group messages that forward pre-encoded frames). They skip Channels'
    # per-event database-connection cleanup, a trip to the database thread (a third of a
    # delivery's time).
    fast_types: frozenset[str] = frozenset()
    route = "socket"  # the label of this kind of socket in the metrics
    _write_shared = None  # zzalu.wire's writer, set once accepted (if the server has one)

    async def dispatch(self, message):
        if message["type"] in self.fast_types:
            await getattr(self, message["type"].replace(".", "_"))(message)
        else:
            await super().dispatch(message)

    # --- lifecycle ---------------------------------------------------------------------------

    async def connect(self):
        if self.channel_layer is None:  # a fan-out socket (FANOUT_ONLY): named for its leases
            self.channel_name = f"socket.{uuid.uuid4().hex}"
        self.user = self.scope.get("user")
        self._tasks: set[asyncio.Task] = set()
        self._closing = False
        self._slot: str | None = None  # the holder whose concurrent-socket slot this is
        if self.scope.get("auth_error"):
            await self.close_with(CLOSE_INVALID_TOKEN, self.scope["auth_error"])
            return
        self.member = socket_member(self.scope)
        if not await self._take_slot():
            return
        await self.open()
        if self._closing:
            return
        self.every(settings.SOCKET_HEARTBEAT_SECONDS, self._beat)
        if self.member is not None and self.member.token_expires_at is not None:
            self.spawn(self._close_when_token_expires())

    async def disconnect(self, code):
        self._closing = True  # what is still on its way to this socket stops here
        for task in getattr(self, "_tasks", ()):
            task.cancel()
        if getattr(self, "_counted", False):
            self._counted = False
            metrics.OPEN_SOCKETS.labels(self.route).dec()
        if getattr(self, "_slot", None) is not None:
            holder, self._slot = self._slot, None
            try:
                await socket_slot_release(holder, self.channel_name)
            except RedisError:  # the lease expires by itself
                pass

    async def accept(self, subprotocol=None, headers=None):
        # A client that offered the bearer subprotocol must get it back (browsers insist).
        await super().accept(subprotocol or self.scope.get("auth_subprotocol"), headers)
        self._write_shared = direct_writer(self.base_send)
        self._counted = True
        metrics.OPEN_SOCKETS.labels(self.route).inc()

    async def close(self, code=None, reason=None):
        self._closing = True
        await super().close(code=code, reason=reason)

    async def open(self) -> None:
        await self.accept()

    # --- who may hold this socket ----------------------------------------------------------

    async def _take_slot(self) -> bool:
        """Hold one of the member's (or, anonymous, the address's) concurrent sockets; closes
        with 4429 when they are all taken. Without Redis the socket opens uncounted."""
        if self.member is not None:
            holder = f"member:{self.member.user_id}"
            cap, why = settings.SOCKET_LIMIT_PER_MEMBER, "too many sockets for this member"
        else:
            holder = f"address:{client_address(self.scope)}"
            cap, why = settings.SOCKET_LIMIT_ANONYMOUS_PER_ADDRESS, "too many sockets from here"
        try:
            taken = await socket_slot_take(holder, self.channel_name, cap=cap)
        except RedisError:
            logger.warning("socket cap not checked for %s", holder, exc_info=True)
            return True
        if not taken:
            await self.close_with(CLOSE_TOO_MANY, why)
            return False
        self._slot = holder
        return True

    async def _beat(self) -> None:
        """The socket's one heartbeat: make sure the member still may use the socket, renew
        its slot, then the app's own ``heartbeat``."""
        if self.member is not None:
            reason = await member_recheck(self.member)
            if reason is not None:
                await self.close_with(CLOSE_INVALID_TOKEN, reason)
                return
        if self._slot is not None:
            try:
                await socket_slot_renew(self._slot, self.channel_name)
            except RedisError:  # the app's heartbeat still runs (it re-syncs the socket)
                logger.warning("socket slot not renewed", exc_info=True)
        await self.heartbeat()

    async def heartbeat(self) -> None:
        """Run every SOCKET_HEARTBEAT_SECONDS while the socket is open (group re-join etc.)."""

    async def _close_when_token_expires(self) -> None:
        # auth.refresh moves the expiry on while this sleeps.
        while (left := self.member.token_expires_at - time.time()) > 0:
            await asyncio.sleep(left)
        await self.close_with(CLOSE_INVALID_TOKEN, "token expired")

    async def auth_refresh(self, content: dict[str, Any]) -> None:
        expires_at = None
        if self.member is not None:
            expires_at = token_refresh_expiry(self.member, content.get("token"))
        if expires_at is None:
            raise ClientError(
                "invalid_token",
                "Send a valid, unexpired access token of this socket's member "
                "(only sockets opened with a token take one).",
            )
        self.member.token_expires_at = expires_at
        await self.send_envelope(
            envelope.make(
                "auth.ack", expires_at=envelope.iso(datetime.fromtimestamp(expires_at, UTC))
            )
        )

    def spawn(self, coro: Awaitable) -> asyncio.Task:
        """Run work beside the receive loop (waiting for Kafka, heartbeats); cancelled on close."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("socket task failed", exc_info=task.exception())

    def every(self, seconds: float, beat: Callable[[], Awaitable[None]]) -> asyncio.Task:
        """Run ``beat`` every ``seconds``, starting at a random point of the first period:
        sockets that connected together must not all beat together (a burst of queries)."""

        async def loop():
            await asyncio.sleep(random.uniform(0, seconds))
            while True:
                try:
                    await beat()
                except Exception:  # a missed beat is retried at the next one
                    logger.warning("heartbeat failed", exc_info=True)
                await asyncio.sleep(seconds)

        return self.spawn(loop())

    # --- frames in ---------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        content: dict[str, Any] = {}
        try:
            content = self._parse(text_data, bytes_data)
            if content["type"] == "auth.refresh":  # every socket takes it
                await self.auth_refresh(content)
            else:
                await self.receive_envelope(content)
        except ClientError as exc:
            await self.send_error(exc.code, exc.detail, exc.client_msg_id)
        except ServiceError as exc:
            extra = {"field": exc.field, **exc.extra} if exc.field else exc.extra
            await self.send_error(exc.code, exc.detail, client_msg_id_of(content), **extra)
        except (KafkaUnavailable, RedisError):
            await self.send_error(
                "unavailable", "Messaging is unavailable; try again.", client_msg_id_of(content)
            )
        except KafkaRejected:
            await self.send_error(
                "invalid_payload", "The message was refused.", client_msg_id_of(content)
            )

    def _parse(self, text_data, bytes_data) -> dict[str, Any]:
        raw = text_data if text_data is not None else bytes_data
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode())
        if size > settings.CHAT_MAX_FRAME_BYTES:
            raise ClientError(
                "too_large", f"Frames are at most {settings.CHAT_MAX_FRAME_BYTES} bytes."
            )
        if text_data is None:
            raise ClientError("invalid_json", "Send JSON text frames.")
        try:
            content = orjson.loads(text_data)
        except orjson.JSONDecodeError as exc:
            raise ClientError("invalid_json", "The frame is not valid JSON.") from exc
        if not isinstance(content, dict):
            raise ClientError("invalid_json", "The frame must be a JSON object.")
        if not isinstance(content.get("type"), str):
            raise ClientError("unknown_type", "The frame needs a string 'type'.")
        return content

    async def receive_envelope(self, content: dict[str, Any]) -> None:
        raise ClientError("unknown_type", f"Unknown type {content['type']!r}.")

    def require_member(self, content: dict[str, Any]):
        if not (self.user and self.user.is_authenticated):
            raise ClientError("auth_required", "Log in to take part.", client_msg_id_of(content))
        return self.user

    # --- frames out --------------------------------------------------------------------------

    async def send(self, text_data=None, bytes_data=None, close=False):
        """A frame for a client that has just gone is dropped: Uvicorn raises ClientDisconnected
        (an OSError), and the disconnect handler that follows cleans up."""
        try:
            await super().send(text_data, bytes_data, close)
        except OSError:
            self._closing = True

    async def send_shared(self, text: str) -> None:
        """A frame many sockets get as it is (a room's, a hakwon's): put on the wire once for
        all of them and written straight to this socket where the server allows (zzalu.wire)."""
        write = self._write_shared
        if write is None or not write(shared_frame(text)):
            await self.send(text_data=text)

    async def send_envelope(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=envelope.encode_text(frame))

    async def send_error(
        self, code: str, detail: str, client_msg_id: str | None = None, **extra: Any
    ) -> None:
        if code == "unavailable":
            metrics.UNAVAILABLE.labels(self.route).inc()
        await self.send_envelope(
            error_frame(code=code, detail=detail, client_msg_id=client_msg_id, **extra)
        )

    async def close_with(self, code: int, reason: str = "") -> None:
        """Close with an app close code, telling why in a last ``closing`` frame first: not every
        server and client passes on the reason of a close frame."""
        if not getattr(self, "_counted", False):  # not accepted yet
            await self.accept()
        await self.send_envelope(envelope.make("closing", code=code, reason=reason))
        await self.close(code=code, reason=reason)
