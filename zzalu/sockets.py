"""What every app socket shares: JSON envelopes in and out, errors as frames, close codes.

Subclasses implement ``open`` (after authentication), ``receive_envelope`` (one ``type`` switch)
and group handlers named after the group message types.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis import RedisError

from . import envelope, metrics
from .errors import ServiceError
from .kafka import KafkaUnavailable
from .text import CLIENT_MSG_ID, TextError, clean_text

logger = logging.getLogger(__name__)

CLOSE_INVALID_TOKEN = 4401
CLOSE_NOT_FOUND = 4404


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Every socket path no app serves: closed with 4404 (Channels' router would fail the
    handshake with an HTTP 500)."""

    async def connect(self):
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND, reason="no such socket")


class ClientError(Exception):
    """Something the client sent cannot be served; becomes one ``error`` frame."""

    def __init__(self, code: str, detail: str, client_msg_id: str | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_msg_id = client_msg_id


def error_frame(*, code: str, detail: str, client_msg_id: str | None = None) -> dict[str, Any]:
    frame = envelope.make("error", code=code, detail=detail)
    if client_msg_id is not None:
        frame["client_msg_id"] = client_msg_id
    return frame


def client_msg_id_of(content: dict[str, Any]) -> str | None:
    """The frame's client_msg_id to echo in an answer; None when it breaks the text rule."""
    try:
        return clean_text(content.get("client_msg_id"), CLIENT_MSG_ID)
    except TextError:
        return None


class EnvelopeConsumer(AsyncWebsocketConsumer):
    # Group message types whose handlers only forward pre-encoded frames. They skip Channels'
    # per-event database-connection cleanup, which costs a third of a delivery's time.
    fast_types: frozenset[str] = frozenset()
    route = "socket"  # the label of this kind of socket in the metrics

    async def dispatch(self, message):
        if message["type"] in self.fast_types:
            await getattr(self, message["type"].replace(".", "_"))(message)
        else:
            await super().dispatch(message)

    # --- lifecycle ---------------------------------------------------------------------------

    async def connect(self):
        self.user = self.scope.get("user")
        self._tasks: set[asyncio.Task] = set()
        if self.scope.get("auth_error"):
            await self.close_with(CLOSE_INVALID_TOKEN, self.scope["auth_error"])
            return
        await self.open()

    async def disconnect(self, code):
        for task in getattr(self, "_tasks", ()):
            task.cancel()
        if getattr(self, "_counted", False):
            self._counted = False
            metrics.OPEN_SOCKETS.labels(self.route).dec()

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self._counted = True
        metrics.OPEN_SOCKETS.labels(self.route).inc()

    async def open(self) -> None:
        await self.accept()

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
            await self.receive_envelope(content)
        except ClientError as exc:
            await self.send_error(exc.code, exc.detail, exc.client_msg_id)
        except ServiceError as exc:
            await self.send_error(exc.code, exc.detail, client_msg_id_of(content))
        except (KafkaUnavailable, RedisError):
            await self.send_error(
                "unavailable", "Messaging is unavailable; try again.", client_msg_id_of(content)
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

    async def send_envelope(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=envelope.encode_text(frame))

    async def send_error(self, code: str, detail: str, client_msg_id: str | None = None) -> None:
        if code == "unavailable":
            metrics.UNAVAILABLE.labels(self.route).inc()
        await self.send_envelope(error_frame(code=code, detail=detail, client_msg_id=client_msg_id))

    async def close_with(self, code: int, reason: str = "") -> None:
        await self.accept()
        await self.close(code=code, reason=reason)
