"""The member's own socket, ``/ws/me/``: their notifications as they happen (anonymous
sockets are closed with 4401: there is nobody to notify)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from redis import RedisError

from zzalu.sockets import CLOSE_INVALID_TOKEN, ClientError, EnvelopeConsumer

from . import events
from .services import unread_counts


class MeConsumer(EnvelopeConsumer):
    fast_types = frozenset({events.GROUP_FRAME})
    route = "me"

    async def open(self):
        if not (self.user and self.user.is_authenticated):
            await self.close_with(CLOSE_INVALID_TOKEN, "log in to get notifications")
            return
        self.group = events.user_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send_unread()

    async def disconnect(self, code):
        await super().disconnect(code)
        if getattr(self, "group", None):
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except (RedisError, ConnectionError):
                pass  # Redis is down: the membership expires by itself

    async def receive_envelope(self, content: dict[str, Any]) -> None:
        raise ClientError("unknown_type", f"Unknown type {content['type']!r}.")

    async def user_frame(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["frame"])

    async def heartbeat(self) -> None:
        # Re-joining is idempotent and survives group expiry or a Redis restart; the count
        # corrects anything missed meanwhile.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send_unread()

    async def _send_unread(self) -> None:
        counts = await database_sync_to_async(unread_counts)({self.user.pk})
        await self.send_envelope(events.unread_frame(unread=counts[self.user.pk]))
