"""@mentions in chat messages, and the notifications messages cause (mentions and replies).

A mention is ``@`` followed by a member's nickname or username, up to the next space; only
members of the room (RoomMember) are mentioned: pages link them and they are notified. A reply
notifies the original's author. One message notifies a member once (a reply that also mentions
them is a reply), never its sender.
"""

from __future__ import annotations

import re
from collections import defaultdict

from django.db.models import Q

from notifications.models import Notification
from notifications.services import Notice
from zzalu import envelope

from .models import ChatMessage, RoomMember

MENTION = re.compile(r"(?<![\w@])@([^\s@]{1,150})")
TRAILING = ".,!?~:;)]}'\"…"
MAX_MENTIONS = 10


def mention_tokens(body: str) -> list[str]:
    """What might name a member, in order: each ``@word`` as written and without trailing
    punctuation ("@민수야," -> "민수야,", "민수야")."""
    tokens: list[str] = []
    for word in MENTION.findall(body):
        for token in (word, word.rstrip(TRAILING)):
            if token and token not in tokens:
                tokens.append(token)
    return tokens


def link_mentions(messages: list[ChatMessage]) -> None:
    """Resolve the mentions of freshly stored messages (one query for the whole batch)."""
    wanted = {m.pk: mention_tokens(m.body) for m in messages if "@" in m.body}
    wanted = {pk: tokens for pk, tokens in wanted.items() if tokens}
    if not wanted:
        return
    linked = [m for m in messages if m.pk in wanted]
    every_token = {t for tokens in wanted.values() for t in tokens}
    members = defaultdict(list)
    for room_id, user_id, username, nickname in RoomMember.objects.filter(
        Q(user__nickname__in=every_token) | Q(user__username__in=every_token),
        room_id__in={m.room_id for m in linked},
    ).values_list("room_id", "user_id", "user__username", "user__nickname"):
        members[room_id].append({"id": user_id, "username": username, "nickname": nickname})
    for message in linked:
        tokens = wanted[message.pk]
        place = {token: n for n, token in enumerate(tokens)}
        named = [
            m for m in members[message.room_id] if {m["nickname"], m["username"]} & place.keys()
        ]
        named.sort(key=lambda m: min(place.get(m["nickname"], 999), place.get(m["username"], 999)))
        message.mentions = named[:MAX_MENTIONS]
    ChatMessage.objects.bulk_update([m for m in linked if m.mentions], ["mentions"])


def chat_notices(frames: list[dict]) -> list[Notice]:
    """Notifications for stored ``chat.message`` frames: their mentions and replies."""
    notices = []
    for frame in frames:
        if frame["type"] != "chat.message" or frame["deleted"]:
            continue
        sender = frame["sender"]
        replied = (frame.get("reply_to") or {}).get("sender", {}).get("id")
        recipients = {m["id"]: Notification.Kind.MENTION for m in frame.get("mentions") or ()}
        if replied is not None:
            recipients[replied] = Notification.Kind.REPLY
        recipients.pop(sender["id"], None)
        for recipient_id, kind in recipients.items():
            notices.append(
                Notice(
                    recipient_id=recipient_id,
                    kind=kind,
                    source=f"chat:{frame['event_id']}",
                    actor={"id": sender["id"], "nickname": sender["nickname"]},
                    text=frame["body"] or "GIF",
                    url=f"/rooms/{frame['room_id']}/#msg-{frame['seq']}",
                    at=envelope.parse_iso(frame["sent_at"]),
                )
            )
    return notices
