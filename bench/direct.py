"""The baseline arm: the Channels tutorial's chat consumer, served only when the benchmark asks.

Served at ``ws/direct/<room_id>/`` under the benchmark's settings only (``bench/settings.py``).
It is deliberately the tutorial architecture and nothing more: each received ``chat.send`` is
``group_send``-ed straight to the room's group, and every socket's handler JSON-encodes the event
for its own client (stdlib ``json``, Channels' default ``dispatch``). No Kafka, no database, no
batching: the thing the Kafka pipeline has to keep up with.

The frame it delivers has the shape of the real ``chat.message`` (without a stored ``seq``), so
the load generator reads both arms the same way. The group prefix is ``direct.`` so the two
arms never share a group.
"""

from __future__ import annotations

import json

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path

from .frames import message_frame


def direct_group(room_id: int) -> str:
    return f"direct.{room_id}"


class DirectChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        self.group = direct_group(self.room_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            data = json.loads(text_data)
        except (TypeError, ValueError):
            return
        if not isinstance(data, dict) or data.get("type") != "chat.send":
            return
        user = self.scope.get("user")
        sender = user.public_profile if user is not None and user.is_authenticated else None
        await self.channel_layer.group_send(
            self.group,
            message_frame(room_id=self.room_id, sender=sender, send=data),
        )

    async def chat_message(self, event):
        await self.send(text_data=json.dumps(event))


websocket_urlpatterns = [path("ws/direct/<int:room_id>/", DirectChatConsumer.as_asgi())]
