"""Changes to stored messages — edit, delete, react, unreact — written the way messages are.

The web process checks a change against the message as stored and hands it to Kafka, keyed by
room; the relay applies the changes in log order, each under the room's row lock, and gives
each the room's next ``seq``. The relay checks the same rules again (``refusal``): between the
two, another change may have come first (a delete before an edit), and such a change is then
dropped without a seq. Rebuilding history replays the same function over the same log.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from zzalu import envelope
from zzalu.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from zzalu.kafka import produce, produce_sync, topic_name
from zzalu.ratelimit import take_token
from zzalu.relay import row_id
from zzalu.text import BODY, CLIENT_MSG_ID, EMOJI, NICKNAME, clean_input

from . import events
from .models import ChatMessage, ChatRoom, MessageChange, Reaction
from .moderation import MODERATOR, OWNER, STAFF, STAFF_PERMISSION, role_in
from .services import EVENT_NAMESPACE, RateLimited, Submitted, UnstorableRecord

logger = logging.getLogger(__name__)

# Client frame -> the record (and frame) type it becomes.
CLIENT_TYPES = {
    "chat.edit": events.CHAT_EDITED,
    "chat.delete": events.CHAT_DELETED,
    "chat.react": events.CHAT_REACTION,
    "chat.unreact": events.CHAT_REACTION,
}
# Who deleted a message, as frames say it.
AUTHOR = "author"
DELETED_BY = (AUTHOR, STAFF, OWNER, MODERATOR)
# Staff delete messages with this permission (the admin's action asks for the same).
DELETE_ANY_PERMISSION = STAFF_PERMISSION


def change_id_for(
    *, type_: str, actor_id: int, room_id: int, client_msg_id: str, event_id: str, emoji: str = ""
) -> str:
    """The same change retried gives the same id, as a send's does. Everything that makes it
    this change is in it: a client_msg_id reused for another message, emoji or frame type is
    another change, not a retry to be dropped as a duplicate."""
    name = f"{type_}:{actor_id}:{room_id}:{client_msg_id}:{event_id}:{emoji}"
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


def event_id_clean(value: Any, *, field: str = "event_id") -> str:
    """A message's event id as sent by a client: a UUID, or InvalidInput."""
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise InvalidInput(f"{field} must be a message's event_id.", field=field) from None


def refusal(
    *, type_: str, message: ChatMessage | None, actor_id: int | None, at: datetime,
    deleted_by: str = AUTHOR, body: str = "",
) -> ServiceError | None:  # fmt: skip
    """Why this change cannot apply to ``message`` now, or None. One rule for both sides.
    ``actor_id`` None skips the author check (rebuilding: the author may be gone since)."""
    if message is None:
        return NotFound("No such message in this room.")
    authors_only = type_ == events.CHAT_EDITED or (
        type_ == events.CHAT_DELETED and deleted_by == AUTHOR
    )
    if authors_only and actor_id is not None and message.sender_id != actor_id:
        return Forbidden("This is not your message.")
    if message.is_deleted:
        return Conflict("The message was deleted.", code="deleted")
    if type_ == events.CHAT_EDITED:
        if at - message.sent_at > timedelta(seconds=settings.CHAT_EDIT_WINDOW_SECONDS):
            return Conflict(
                f"Messages can be edited for {settings.CHAT_EDIT_WINDOW_SECONDS} s after sending.",
                code="edit_window_closed",
            )
        if not body and not message.gif_url:
            return InvalidInput("Send some text or a GIF.", field="body")
    return None


# --- the web side ----------------------------------------------------------------------------


def change_payload_clean(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate a change frame: client_msg_id, event_id and the fields of its type."""
    type_ = payload["type"]
    client_msg_id = payload.get("client_msg_id")
    if client_msg_id is None or (isinstance(client_msg_id, str) and not client_msg_id.strip()):
        raise InvalidInput("client_msg_id is required.", field="client_msg_id")
    clean = {
        "client_msg_id": clean_input(client_msg_id, CLIENT_MSG_ID, field="client_msg_id"),
        "event_id": event_id_clean(payload.get("event_id")),
    }
    if type_ == "chat.edit":
        body = payload.get("body")
        clean["body"] = "" if body is None else clean_input(body, BODY, field="body")
    elif type_ in ("chat.react", "chat.unreact"):
        emoji = clean_input(payload.get("emoji"), EMOJI, field="emoji")
        if not emoji:
            raise InvalidInput("emoji is required.", field="emoji")
        clean["emoji"] = emoji
    return clean


def _checked_record(
    *, room_id: int, actor, type_: str, clean: dict[str, Any], change_id: str
) -> dict | None:
    """The record for a change the actor may make now, or the ServiceError saying why not;
    None for a retry of a change already applied (Kafka has it: acknowledge it again)."""
    if MessageChange.objects.filter(change_id=change_id).exists():
        return None
    kind = CLIENT_TYPES[type_]
    message = ChatMessage.objects.filter(room_id=room_id, event_id=clean["event_id"]).first()
    at = timezone.now()
    deleted_by = AUTHOR
    if kind == events.CHAT_DELETED and message is not None and message.sender_id != actor.pk:
        deleted_by = _deleter_role(room_id=room_id, actor=actor)
    refused = refusal(
        type_=kind, message=message, actor_id=actor.pk, at=at, deleted_by=deleted_by,
        body=clean.get("body", ""),
    )  # fmt: skip
    if refused is not None:
        raise refused
    fields: dict[str, Any] = {}
    if kind == events.CHAT_EDITED:
        fields["body"] = clean["body"]
    elif kind == events.CHAT_DELETED:
        fields["deleted_by"] = deleted_by
    else:
        fields.update(emoji=clean["emoji"], added=type_ == "chat.react")
    return events.change_record(
        kind,
        change_id=change_id,
        room_id=room_id,
        event_id=clean["event_id"],
        actor={"id": actor.pk, "nickname": actor.display_name},
        client_msg_id=clean["client_msg_id"],
        at=envelope.iso(at),
        **fields,
    )


def _deleter_role(*, room_id: int, actor) -> str:
    """Who may delete others' messages: staff (the admin's permission), the room's owner and
    its moderators."""
    if actor.has_perm(DELETE_ANY_PERMISSION):
        return STAFF
    room = ChatRoom.objects.filter(pk=room_id).first()
    role = role_in(room, actor) if room is not None else None
    if role not in (OWNER, MODERATOR):
        raise Forbidden("This is not your message.")
    return role


async def chat_change_submit(*, room_id: int, actor, payload: dict[str, Any]) -> Submitted:
    """Check a change frame, the actor's rate and the message, then hand it to Kafka; await
    ``acked`` before telling the client (the same contract as ``chat_message_submit``)."""
    clean = change_payload_clean(payload)
    if not await take_token(f"chat:{actor.pk}"):
        raise RateLimited("Slow down: too many messages.")
    change_id = change_id_for(
        type_=payload["type"], actor_id=actor.pk, room_id=room_id,
        client_msg_id=clean["client_msg_id"], event_id=clean["event_id"],
        emoji=clean.get("emoji", ""),
    )  # fmt: skip
    record = await database_sync_to_async(_checked_record)(
        room_id=room_id, actor=actor, type_=payload["type"], clean=clean, change_id=change_id
    )
    if record is None:
        acked = asyncio.get_running_loop().create_future()
        acked.set_result(None)
    else:
        acked = await produce(topic_name("chat"), str(room_id), envelope.encode(record))
    return Submitted(
        ack_id=change_id,
        event_id=clean["event_id"],
        client_msg_id=clean["client_msg_id"],
        acked=acked,
    )


def message_remove(*, message: ChatMessage, user) -> None:
    """Delete a message through the log from a page or the admin (not a socket): its author,
    the room's owner or moderators, or staff (the admin's permission)."""
    deleted_by = AUTHOR
    if message.sender_id != user.pk:
        deleted_by = _deleter_role(room_id=message.room_id, actor=user)
    client_msg_id = f"remove-{message.event_id}"
    record = events.change_record(
        events.CHAT_DELETED,
        change_id=change_id_for(
            type_="chat.delete",
            actor_id=user.pk,
            room_id=message.room_id,
            client_msg_id=client_msg_id,
            event_id=str(message.event_id),
        ),
        room_id=message.room_id,
        event_id=str(message.event_id),
        actor={"id": user.pk, "nickname": user.display_name},
        client_msg_id=client_msg_id,
        at=envelope.iso(timezone.now()),
        deleted_by=deleted_by,
    )
    produce_sync(topic_name("chat"), str(message.room_id), envelope.encode(record))


# --- the relay side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingChange:
    """A change record read from Kafka, checked (ValueError for one that could never apply)."""

    type: str
    change_id: uuid.UUID
    room_id: int
    event_id: uuid.UUID
    actor_id: int | None
    actor_nickname: str
    client_msg_id: str
    at: datetime
    body: str = ""
    deleted_by: str = ""
    emoji: str = ""
    added: bool = False
    numbered: bool = True  # a version 1 removal had no seq of its own, and gets none now

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> IncomingChange:
        if record["type"] == events.CHAT_REMOVED:  # a version 1 log: staff removed it
            event_id = uuid.UUID(str(record["event_id"]))
            return cls(
                type=events.CHAT_DELETED,
                change_id=uuid.uuid5(EVENT_NAMESPACE, f"chat.removed:{event_id}"),
                room_id=row_id(record["room_id"]), event_id=event_id, actor_id=None,
                actor_nickname="", client_msg_id="", at=timezone.now(), deleted_by=STAFF,
                numbered=False,
            )  # fmt: skip
        actor = record["actor"]
        actor_id = actor.get("id")
        fields: dict[str, Any] = {}
        if record["type"] == events.CHAT_EDITED:
            fields["body"] = clean_input(record["body"], BODY, field="body")
        elif record["type"] == events.CHAT_DELETED:
            if record["deleted_by"] not in DELETED_BY:
                raise ValueError(f"deleted_by {record['deleted_by']!r}"[:100])
            fields["deleted_by"] = record["deleted_by"]
        else:
            fields["emoji"] = clean_input(record["emoji"], EMOJI, field="emoji")
            if not fields["emoji"] or not isinstance(record["added"], bool):
                raise ValueError("a reaction needs an emoji and added")
            fields["added"] = record["added"]
        at = envelope.parse_iso(record["at"])
        if at.tzinfo is None:
            raise ValueError("at without a time zone")
        envelope.iso(at)  # OverflowError for the far ends of the calendar
        return cls(
            type=record["type"],
            change_id=uuid.UUID(str(record["change_id"])),
            room_id=row_id(record["room_id"]),
            event_id=uuid.UUID(str(record["event_id"])),
            actor_id=None if actor_id is None else row_id(actor_id),
            actor_nickname=clean_input(actor.get("nickname") or "", NICKNAME, field="nickname"),
            client_msg_id=clean_input(
                record["client_msg_id"], CLIENT_MSG_ID, field="client_msg_id"
            ),
            at=at,
            **fields,
        )


def change_apply(change: IncomingChange, *, strict: bool = True) -> MessageChange | None:
    """Apply one change and number it; returns the stored change (again, for a redelivered
    one, so it is announced again), or None when it no longer applies. A change for a room
    or member the database does not have raises UnstorableRecord (skipped when rebuilding)."""
    stored = (
        MessageChange.objects.select_related("message").filter(change_id=change.change_id).first()
    )
    if stored is not None:
        return stored
    with transaction.atomic():
        last_seq = (
            ChatRoom.objects.select_for_update(no_key=True)
            .filter(pk=change.room_id)
            .values_list("last_seq", flat=True)
            .first()
        )
        if last_seq is None:
            if strict:
                raise UnstorableRecord(f"{change.type} for an unknown room")
            return None
        actor_known = change.actor_id is not None and _user_exists(change.actor_id)
        if change.type == events.CHAT_REACTION and not actor_known and strict:
            raise UnstorableRecord(f"{change.type} by an unknown member")
        message = (
            ChatMessage.objects.select_for_update(no_key=True)
            .filter(room_id=change.room_id, event_id=change.event_id)
            .first()
        )
        refused = refusal(
            type_=change.type, message=message, actor_id=change.actor_id if strict else None,
            at=change.at, deleted_by=change.deleted_by, body=change.body,
        )  # fmt: skip
        if refused is not None:
            logger.info("change %s not applied: %s", change.change_id, refused.code)
            return None
        applied = _apply(change, message, actor_id=change.actor_id if actor_known else None)
        if applied is None or not change.numbered:
            return None
        applied.seq = last_seq + 1
        applied.save()
        ChatRoom.objects.filter(pk=change.room_id).update(last_seq=applied.seq)
    return applied


def _user_exists(user_id: int) -> bool:
    user_model = MessageChange._meta.get_field("actor").related_model
    return user_model.objects.filter(pk=user_id).exists()


def _apply(change: IncomingChange, message: ChatMessage, *, actor_id) -> MessageChange | None:
    """Change the message (or its reactions); the unsaved change row, or None for a reaction
    that is already so. ``actor_id`` is None for a member the database no longer has (only
    when rebuilding): their reactions went with them, but the change keeps its seq."""
    row = MessageChange(
        change_id=change.change_id,
        room_id=change.room_id,
        message=message,
        actor_id=actor_id,
        actor_nickname=change.actor_nickname,
        client_msg_id=change.client_msg_id,
        at=change.at,
    )
    if change.type == events.CHAT_EDITED:
        message.body, message.edited_at = change.body, change.at
        message.save(update_fields=["body", "edited_at"])
        row.kind, row.body = MessageChange.Kind.EDITED, change.body
    elif change.type == events.CHAT_DELETED:
        message.is_deleted, message.deleted_by = True, change.deleted_by
        message.save(update_fields=["is_deleted", "deleted_by"])
        row.kind, row.deleted_by = MessageChange.Kind.DELETED, change.deleted_by
    else:
        if actor_id is not None:
            mine = Reaction.objects.filter(message=message, user_id=actor_id, emoji=change.emoji)
            if change.added == mine.exists():
                return None  # one reaction per member per emoji: already there, or already gone
            if change.added:
                Reaction.objects.create(
                    message=message, user_id=actor_id, emoji=change.emoji, created_at=change.at
                )
            else:
                mine.delete()
        row.kind = MessageChange.Kind.REACTED if change.added else MessageChange.Kind.UNREACTED
        row.emoji = change.emoji
        row.count = Reaction.objects.filter(message=message, emoji=change.emoji).count()
    return row
