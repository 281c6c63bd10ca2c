"""The title-hakwon socket: ``/ws/hakwons/<hakwon_id>/``.

Watchers of one hakwon receive its events (never a global broadcast). Members may also write
over the socket; those frames call the same services as the REST API and get the same rules.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from channels.db import database_sync_to_async

from zzalu import metrics
from zzalu.errors import NotFound
from zzalu.ratelimit import take_token
from zzalu.sockets import CLOSE_NOT_FOUND, ClientError, EnvelopeConsumer, client_msg_id_of
from zzalu.text import CLIENT_MSG_ID, clean_input

from . import events, selectors, services

REMEMBERED_EVENTS = 1000


class HakwonConsumer(EnvelopeConsumer):
    fast_types = frozenset({events.GROUP_FRAMES})
    route = "hakwons"

    async def open(self):
        self.hakwon_id = int(self.scope["url_route"]["kwargs"]["hakwon_id"])
        if not await database_sync_to_async(selectors.hakwon_exists)(hakwon_id=self.hakwon_id):
            await self.close_with(CLOSE_NOT_FOUND, "unknown hakwon")
            return
        self.group = events.hakwon_group(self.hakwon_id)
        # An event may be published twice (a sweeper that crashed after Kafka acknowledged):
        # each watcher gets it once.
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await super().disconnect(code)
        if hasattr(self, "group"):
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception:  # Redis down: the membership goes with the connection
                pass

    async def heartbeat(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)

    # --- client -> server ------------------------------------------------------------------

    async def receive_envelope(self, content: dict[str, Any]) -> None:
        action = {
            "comment.create": self._create,
            "comment.like": self._like,
            "comment.unlike": self._unlike,
        }.get(content["type"])
        if action is None:
            raise ClientError("unknown_type", f"Unknown type {content['type']!r}.")
        member = self.require_member(content)
        if content.get("client_msg_id") is not None:  # optional, but text like any other
            clean_input(content["client_msg_id"], CLIENT_MSG_ID, field="client_msg_id")
        if not await take_token(f"hakwon:{member.pk}"):
            raise ClientError("rate_limited", "Slow down.", client_msg_id_of(content))
        fields = await database_sync_to_async(action)(member, content)
        await self.send_envelope(
            events.ack_frame(
                action=content["type"].removeprefix("comment."),
                client_msg_id=client_msg_id_of(content),
                **fields,
            )
        )
        metrics.ACKS.labels(self.route).inc()

    def _create(self, member, content) -> dict[str, Any]:
        hakwon = selectors.hakwon_get(hakwon_id=self.hakwon_id)
        if hakwon is None:  # deleted (or hidden again) since the socket opened
            raise NotFound("No such title-hakwon.")
        comment = services.comment_create(
            hakwon=hakwon, author=member, content=content.get("content")
        )
        return {"comment_id": comment.pk}

    def _like(self, member, content) -> dict[str, Any]:
        comment = self._comment(content)
        return {
            "comment_id": comment.pk,
            "like_count": services.comment_like(comment=comment, user=member),
        }

    def _unlike(self, member, content) -> dict[str, Any]:
        comment = self._comment(content)
        return {
            "comment_id": comment.pk,
            "like_count": services.comment_unlike(comment=comment, user=member),
        }

    def _comment(self, content):
        comment_id = content.get("comment_id")
        if not isinstance(comment_id, int) or isinstance(comment_id, bool):
            raise ClientError(
                "invalid_payload", "comment_id must be a number.", client_msg_id_of(content)
            )
        comment = selectors.comment_get(comment_id=comment_id)
        if comment is None or comment.hakwon_id != self.hakwon_id:
            raise ClientError(
                "not_found", "No such comment in this hakwon.", client_msg_id_of(content)
            )
        return comment

    # --- group -> socket -------------------------------------------------------------------

    async def hakwon_frames(self, message: dict[str, Any]) -> None:
        for event_id, frame in zip(message["event_ids"], message["frames"], strict=True):
            if event_id in self._seen:
                continue
            self._remember(event_id)
            await self.send_shared(frame)

    def _remember(self, event_id: str) -> None:
        self._seen.add(event_id)
        self._seen_order.append(event_id)
        if len(self._seen_order) > REMEMBERED_EVENTS:
            self._seen.discard(self._seen_order.popleft())
