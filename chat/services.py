"""Chat writes: rooms and likes (database), messages (Kafka first, stored by the relay)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import F, PositiveBigIntegerField, Subquery, Value
from django.db.models.functions import Least
from django.utils import timezone
from redis import RedisError

from uploads.models import Upload
from uploads.services import upload_create
from zzalu import envelope
from zzalu.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from zzalu.kafka import produce, topic_name
from zzalu.ratelimit import take_token
from zzalu.relay import PoisonRecord, row_id
from zzalu.sql import cursor, placeholders, quoted_names, row_preparer, rows_where_in
from zzalu.text import (
    BODY,
    CLIENT_MSG_ID,
    DESCRIPTION,
    NICKNAME,
    ROOM_NAME,
    TAG,
    URL,
    USERNAME,
    clean_input,
)

from . import events
from .mentions import link_mentions
from .models import ChatMessage, ChatRoom, RoomLike, RoomMember, Tag

logger = logging.getLogger(__name__)

# uuid5 namespace for chat event ids: one sender, room and client_msg_id always give one id.
EVENT_NAMESPACE = uuid.UUID("6f1d2c53-3f0e-4c47-9a52-0a7f4d3b8e21")
MAX_TAGS = 10


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"


# --- rooms -----------------------------------------------------------------------------------


def _clean_tags(tags: list[str]) -> list[str]:
    names = []
    for raw in tags:
        name = clean_input(
            raw.strip().lstrip("#") if isinstance(raw, str) else raw, TAG, field="tags"
        )
        if not name:
            raise InvalidInput("Tags cannot be empty.", field="tags")
        if name not in names:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags.", field="tags")
    return names


@transaction.atomic
def room_create(
    *,
    owner,
    name: str,
    description: str = "",
    image_url: str = "",
    tags: list[str] = (),
    image_id: str | uuid.UUID | None = None,
    image_file=None,
) -> ChatRoom:
    """A room. Its image: an existing upload (``image_id``, as the API sends it), a file to
    upload now (``image_file``, from the page's form), or an http(s) ``image_url``."""
    name = clean_input(name, ROOM_NAME, field="name")
    if not name:
        raise InvalidInput("A room needs a name.", field="name")
    description = clean_input(description, DESCRIPTION, field="description")
    image_url = clean_input(image_url, URL, field="image_url")
    tag_names = _clean_tags(list(tags))
    if sum(bool(x) for x in (image_url, image_id, image_file)) > 1:
        raise InvalidInput("Give the room one image: an upload or a URL.", field="image_url")
    image = _upload_get(image_id) if image_id else None
    if image_file:  # last: nothing is stored for a room that fails its checks
        image = upload_create(owner=owner, file=image_file)
    room = ChatRoom.objects.create(
        owner=owner, name=name, description=description, image_url=image_url, image=image
    )
    if tag_names:
        Tag.objects.bulk_create([Tag(name=n) for n in tag_names], ignore_conflicts=True)
        room.tags.set(Tag.objects.filter(name__in=tag_names))
    return room


def room_image_set(*, room: ChatRoom, user, image_id=None, image_file=None) -> ChatRoom:
    """Change the room's image to an upload (``image_id``) or a file uploaded now
    (``image_file``); with neither, the room has no image (its old image_url goes too). Only
    its owner and staff who may change rooms."""
    if not room_image_editable(room=room, user=user):
        raise Forbidden("Only the room's owner and staff can change its image.")
    if image_id and image_file:
        raise InvalidInput("Give the room one image.", field="image_id")
    image = _upload_get(image_id) if image_id else None
    if image_file:
        image = upload_create(owner=user, file=image_file)
    room.image, room.image_url = image, ""
    room.save(update_fields=["image", "image_url"])
    return room


def room_image_editable(*, room: ChatRoom, user) -> bool:
    if not (user and user.is_authenticated):
        return False
    return room.owner_id == user.pk or user.has_perm("chat.change_chatroom")


def _upload_get(image_id) -> Upload:
    try:
        return Upload.objects.get(pk=uuid.UUID(str(image_id)))
    except (ValueError, Upload.DoesNotExist):
        raise InvalidInput("No upload has this id.", field="image_id") from None


def room_like(*, room: ChatRoom, user) -> int:
    """Like a room once; returns the new like count. Conflict if already liked. Once it is
    committed, the room's sockets and the rooms lists showing it hear the new count."""
    room_join(room_id=room.pk, user=user)
    try:
        with transaction.atomic():
            RoomLike.objects.create(room=room, user=user)
            ChatRoom.objects.filter(pk=room.pk).update(like_count=F("like_count") + 1)
            transaction.on_commit(lambda: room_likes_announce(room_id=room.pk))
    except IntegrityError as exc:
        raise Conflict("You already like this room.", code="already_liked") from exc
    return ChatRoom.objects.values_list("like_count", flat=True).get(pk=room.pk)


def room_unlike(*, room: ChatRoom, user) -> int:
    with transaction.atomic():
        deleted, _ = RoomLike.objects.filter(room=room, user=user).delete()
        if not deleted:
            raise NotFound("You do not like this room.", code="not_liked")
        ChatRoom.objects.filter(pk=room.pk).update(like_count=F("like_count") - 1)
        transaction.on_commit(lambda: room_likes_announce(room_id=room.pk))
    return ChatRoom.objects.values_list("like_count", flat=True).get(pk=room.pk)


def room_likes_announce(*, room_id: int) -> None:
    """Send the room's like count as it is now (``room.likes``) to its sockets and to the rooms
    lists that show it. Through the channel layer only, like typing: best effort, never logged.
    The count is read when sent, not when liked, so of two likes committing together the later
    frame carries both."""
    like_count = ChatRoom.objects.filter(pk=room_id).values_list("like_count", flat=True).first()
    if like_count is None:
        return  # the room is gone
    message = events.frame_group_message(events.likes_frame(room_id=room_id, like_count=like_count))
    try:
        group_send_now(
            [(events.room_group(room_id), message), (events.watchers_group(room_id), message)]
        )
    except (RedisError, OSError):  # pages read the count again when they (re)load
        logger.info("room.likes not sent for room %s", room_id, exc_info=True)


def group_send_now(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Group messages from synchronous code (a view, a service), in order."""
    layer = get_channel_layer()

    async def send():
        for group, message in messages:
            await layer.group_send(group, message)

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: a view's thread, no loop of its own
        async_to_sync(send)()
        return
    # Synchronous code called inside a running loop (a script, a test driving a browser):
    # async_to_sync refuses to block that loop's thread, so send from another one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(async_to_sync(send)).result()


# --- membership and read markers ------------------------------------------------------------


def room_join(*, room_id: int, user) -> None:
    """The member joins the room (idempotent): opening it while logged in, or liking it. A new
    member starts with everything so far read."""
    if not (user and user.is_authenticated):
        return
    if RoomMember.objects.filter(room_id=room_id, user=user).exists():
        return  # the usual case, a read: no write (SQLite would queue it behind the relay's)
    last_seq = ChatRoom.objects.filter(pk=room_id).values_list("last_seq", flat=True).first()
    if last_seq is not None:
        RoomMember.objects.bulk_create(
            [RoomMember(room_id=room_id, user=user, last_read_seq=last_seq)],
            ignore_conflicts=True,
        )


def read_marker_advance(*, room_id: int, user_id: int, seq: int) -> None:
    """Move the member's marker to ``seq``, never back and never past the room's newest seq:
    one UPDATE (nothing for a member who has not joined the room)."""
    newest = Subquery(ChatRoom.objects.filter(pk=room_id).values("last_seq")[:1])
    marker = Least(Value(seq, output_field=PositiveBigIntegerField()), newest)
    RoomMember.objects.filter(room_id=room_id, user_id=user_id, last_read_seq__lt=marker).update(
        last_read_seq=marker
    )


# --- sending (web process, async) -------------------------------------------------------------


def chat_event_id(*, sender_id: int, room_id: int, client_msg_id: str) -> str:
    """The same send retried gives the same id. Scoped to the room as well: a client that
    reuses an id in another room is sending another message, which must not vanish as a
    "duplicate" after it was acknowledged."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{sender_id}:{room_id}:{client_msg_id}"))


def chat_payload_clean(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate a ``chat.send`` frame (or a ``chat.message`` record: the relay checks what the
    socket checked); returns client_msg_id, body, gif_url, gif_id and reply_to, or raises
    InvalidInput."""
    client_msg_id = payload.get("client_msg_id")
    if client_msg_id is None or (isinstance(client_msg_id, str) and not client_msg_id.strip()):
        raise InvalidInput("client_msg_id is required.", field="client_msg_id")
    client_msg_id = clean_input(client_msg_id, CLIENT_MSG_ID, field="client_msg_id")
    body = payload.get("body")
    body = "" if body is None else clean_input(body, BODY, field="body")
    gif_url = payload.get("gif_url")
    gif_url = None if gif_url is None else clean_input(gif_url, URL, field="gif_url") or None
    gif_id = _optional_uuid(payload, "gif_id", "gif_id must be an upload's id.")
    if gif_id and gif_url:
        raise InvalidInput("Send gif_url or gif_id, not both.", field="gif_id")
    if not body and not gif_url and not gif_id:
        raise InvalidInput("Send some text or a GIF.", field="body")
    reply_to = _optional_uuid(payload, "reply_to", "reply_to must be a message's event_id.")
    return {
        "client_msg_id": client_msg_id,
        "body": body,
        "gif_url": gif_url,
        "gif_id": gif_id,
        "reply_to": reply_to,
    }


def _optional_uuid(payload: dict[str, Any], key: str, problem: str) -> str | None:
    """``payload[key]`` as a canonical UUID string, None when absent or null."""
    value = payload.get(key)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise InvalidInput(problem, field=key) from None


@dataclass(frozen=True)
class Submitted:
    ack_id: str  # what the relay announces it as: the message's event_id, a change's change_id
    event_id: str  # the message (a change's target), as the chat.ack names it
    client_msg_id: str
    acked: Any  # awaitable: resolves when Kafka has stored the record


def _reply_target_check(*, room_id: int, event_id: str) -> None:
    original = (
        ChatMessage.objects.filter(room_id=room_id, event_id=event_id)
        .values_list("is_deleted", flat=True)
        .first()
    )
    if original is None:
        raise NotFound("No such message in this room.")
    if original:
        raise Conflict("The message was deleted.", code="deleted")


async def chat_message_submit(*, room_id: int, sender, payload: dict[str, Any]) -> Submitted:
    """Check a frame and the sender's rate, then hand the message to Kafka keyed by room.

    Returns as soon as the record is enqueued, so records from one socket keep their order;
    await ``acked`` before telling the sender it is safe.
    """
    clean = chat_payload_clean(payload)
    if not await take_token(f"chat:{sender.pk}"):
        raise RateLimited("Slow down: too many messages.")
    if clean["reply_to"]:
        await database_sync_to_async(_reply_target_check)(
            room_id=room_id, event_id=clean["reply_to"]
        )
    if clean["gif_id"] and not await Upload.objects.filter(pk=clean["gif_id"]).aexists():
        raise NotFound("No such GIF: upload it first.", field="gif_id")
    event_id = chat_event_id(
        sender_id=sender.pk, room_id=room_id, client_msg_id=clean["client_msg_id"]
    )
    record = events.message_record(
        event_id=event_id,
        room_id=room_id,
        sender=sender.public_profile,
        sent_at=timezone.now(),
        **clean,
    )
    acked = await produce(topic_name("chat"), str(room_id), envelope.encode(record))
    return Submitted(
        ack_id=event_id, event_id=event_id, client_msg_id=clean["client_msg_id"], acked=acked
    )


async def presence_announce(*, room_id: int, change: str, nickname: str | None) -> None:
    """Tell the room someone came or went (through Kafka, like every room event)."""
    record = events.presence_record(room_id=room_id, change=change, nickname=nickname)
    acked = await produce(topic_name("chat"), str(room_id), envelope.encode(record))
    acked.add_done_callback(_log_lost_presence)


def _log_lost_presence(acked) -> None:
    if not acked.cancelled() and acked.exception() is not None:
        logger.info("presence event not stored: %s", acked.exception())


# --- storing (relay process) ------------------------------------------------------------------


class UnstorableRecord(PoisonRecord):
    """A well-formed record naming a room or member the database does not have."""


@dataclass(frozen=True)
class IncomingMessage:
    """A ``chat.message`` record read from Kafka, checked: its row's values, ready to store.

    Raises ValueError for a record that could never be stored (so the relay skips it instead
    of retrying it forever).
    """

    record: dict[str, Any]
    partition: int | None = None
    offset: int | None = None
    values: dict[str, Any] = field(init=False, repr=False)  # the row's, by attname
    reply_to: str | None = field(init=False, repr=False)  # the original's event_id
    gif_id: str | None = field(init=False, repr=False)  # an upload's id

    def __post_init__(self):
        try:
            values, clean = _message_from_record(self.record, self.partition, self.offset)
        except (
            KeyError,
            TypeError,
            AttributeError,
            ValueError,
            OverflowError,
            InvalidInput,
        ) as exc:
            raise ValueError(f"malformed chat.message record: {exc!r}") from exc
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "reply_to", clean["reply_to"])
        object.__setattr__(self, "gif_id", clean["gif_id"])

    @property
    def room_id(self) -> int:
        return self.values["room_id"]

    @property
    def event_id(self) -> uuid.UUID:
        return self.values["event_id"]

    @property
    def message(self) -> ChatMessage:
        """A new unsaved row (a new one every time: a batch tried again starts afresh)."""
        message = _new_message(self.values)
        # Resolved once the batch is stored (the original may be earlier in the same batch).
        message.reply_to_event_id = self.reply_to
        message.gif_upload_wanted = self.gif_id
        return message


def _new_message(values: dict[str, Any]) -> ChatMessage:
    """``ChatMessage(**values)``, built positionally as rows read from the database are: the
    keyword constructor costs three times as much (it looks every field up among the keywords).
    """
    return ChatMessage(
        *[values[f.attname] if f.attname in values else f.get_default() for f in _MESSAGE_FIELDS]
    )


_MESSAGE_FIELDS = ChatMessage._meta.concrete_fields
_MESSAGE_ROW = tuple(f for f in _MESSAGE_FIELDS if not f.primary_key)  # what an INSERT sets


def _sent_at(value: Any) -> datetime:
    """A record's send time: aware, and one the wire format can write back (a time near the
    ends of the calendar is stored fine and then fails every socket that replays it)."""
    sent_at = envelope.parse_iso(value)
    if sent_at.tzinfo is None:
        raise ValueError("sent_at without a time zone")
    envelope.iso(sent_at)  # OverflowError for the far ends of the calendar
    return sent_at


def _message_from_record(record: dict[str, Any], partition, offset) -> tuple[dict, dict]:
    """The row's values (by attname) and the cleaned payload."""
    sender = record["sender"]
    sender_id = sender.get("id")
    clean = chat_payload_clean(record)
    values = {
        "event_id": uuid.UUID(str(record["event_id"])),
        "room_id": row_id(record["room_id"]),
        "kind": ChatMessage.Kind.TALK.value,
        "sender_id": None if sender_id is None else row_id(sender_id),
        # The sender's snapshot is shown to everyone: the same rule as the member's profile.
        "sender_username": clean_input(sender.get("username", ""), USERNAME, field="username"),
        "sender_nickname": clean_input(sender.get("nickname", ""), NICKNAME, field="nickname"),
        "sender_profile_path": clean_input(
            sender.get("profile_path") or "", URL, field="profile_path"
        ),
        "body": clean["body"],
        "gif_url": clean["gif_url"] or "",
        "client_msg_id": clean["client_msg_id"],
        "sent_at": _sent_at(record["sent_at"]),
        "kafka_partition": partition,
        "kafka_offset": offset,
    }
    return values, clean


@transaction.atomic
def message_store_batch(*, items: list[IncomingMessage], strict: bool = True) -> list[ChatMessage]:
    """Store a batch of chat records once each, numbering them per room in log order.

    Idempotent: a record whose event id is already stored (a redelivery, or a retried send,
    whose event id is derived from sender, room and client_msg_id) is not stored again but is
    returned with its original ``seq`` so it can be announced again. A record for a room or
    sender the database does not know raises UnstorableRecord (the relay dead-letters it);
    with ``strict=False`` (rebuilding history) such rooms are skipped and such senders kept
    as their snapshot. Returns every stored message of the batch, by room then seq.

    Whatever the batch holds, it costs five statements (written as SQL, below): which are
    stored already, lock the rooms, which senders exist, one INSERT, one UPDATE of last_seq.
    """
    by_id: dict[uuid.UUID, IncomingMessage] = {}
    for item in items:
        by_id.setdefault(item.event_id, item)
    known = _stored_event_ids(list(by_id))
    existing = []
    if known:  # a redelivery: announced again as stored
        existing = list(
            ChatMessage.objects.filter(event_id__in=known).select_related("gif_upload").order_by()
        )
    pending: dict[int, list[ChatMessage]] = defaultdict(list)
    for event_id, item in by_id.items():
        if event_id not in known:
            pending[item.room_id].append(item.message)
    if not pending:
        return sorted(existing, key=lambda m: (m.room_id, m.seq))

    last_seqs = _rooms_lock(sorted(pending))
    known_senders = _users_known({m.sender_id for ms in pending.values() for m in ms})
    _attach_gifs([m for ms in pending.values() for m in ms])
    created: list[ChatMessage] = []
    newest: dict[int, int] = {}  # room -> its last seq once the batch is stored
    for room_id, messages in pending.items():
        last_seq = last_seqs.get(room_id)
        if last_seq is None and strict:
            raise UnstorableRecord(f"unknown room {room_id}")
        if last_seq is None:
            logger.warning("dropping %d message(s) for unknown room %s", len(messages), room_id)
            continue
        for number, message in enumerate(messages, start=last_seq + 1):
            message.seq = number
            if message.sender_id is not None and message.sender_id not in known_senders:
                if strict:
                    raise UnstorableRecord(f"unknown sender {message.sender_id}")
                message.sender_id = None  # the member is gone; the snapshot stays
        newest[room_id] = messages[-1].seq
        created.extend(messages)
    _messages_insert(created)
    _rooms_advance(newest)
    _link_replies([m for m in created if m.reply_to_event_id])
    link_mentions(created)
    return sorted(existing + created, key=lambda m: (m.room_id, m.seq))


# The statements every relay batch runs, however few records it holds, written as SQL: the ORM
# spends 0.3-0.9 ms of CPU building each query (far more than SQLite or PostgreSQL spend
# running it), which was most of the relay's 5-7 ms per message at 100 msg/s
# (docs/decisions/0015). Values are prepared as the ORM's INSERT prepares them (zzalu.sql), and
# the statements run on the driver's cursor while nobody watches queries (0017).
# `db` is the connection itself: each attribute read through django.db.connection (a proxy)
# costs a context-local lookup, and preparing a row reads it once per field.


def _stored_event_ids(event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``event_ids`` are stored already."""
    return {
        event_id for (event_id,) in rows_where_in(ChatMessage, ["event_id"], event_id=event_ids)
    }


def _rooms_lock(room_ids: list[int]) -> dict[int, int]:
    """The rooms' last_seq, locked in id order until the transaction ends (PostgreSQL row
    locks, FOR NO KEY UPDATE: members joining a room, a row that references it, need not
    wait; SQLite holds the database's write lock already). Unknown rooms are left out."""
    db = connections[DEFAULT_DB_ALIAS]
    pk, last_seq, table = quoted_names(db, ChatRoom, ChatRoom._meta.pk.column, "last_seq")
    lock = ""
    if db.features.has_select_for_update:
        lock = " " + db.ops.for_update_sql(no_key=db.features.has_select_for_no_key_update)
    with cursor(db) as statements:
        statements.execute(
            f"SELECT {pk}, {last_seq} FROM {table} WHERE {pk} IN ({placeholders(room_ids)})"
            f" ORDER BY {pk}{lock}",
            room_ids,
        )
        return dict(statements.fetchall())


def _users_known(user_ids: set[int | None]) -> set[int]:
    """Which of ``user_ids`` are members (accounts that exist)."""
    user_model = ChatMessage._meta.get_field("sender").related_model
    ids = [i for i in user_ids if i is not None]
    return {pk for (pk,) in rows_where_in(user_model, ["pk"], pk=ids)}


def _messages_insert(messages: list[ChatMessage]) -> None:
    """INSERT the messages (a statement per as many rows as the database takes), setting their
    ids as bulk_create would."""
    if not messages:
        return
    db = connections[DEFAULT_DB_ALIAS]
    if not db.features.can_return_rows_from_bulk_insert:  # SQLite before 3.35
        ChatMessage.objects.bulk_create(messages)
        return
    fields = _MESSAGE_ROW
    event_field = ChatMessage._meta.get_field("event_id")
    *columns, table = quoted_names(db, ChatMessage, *(f.column for f in fields))
    pk, event_id, _ = quoted_names(db, ChatMessage, ChatMessage._meta.pk.column, event_field.column)
    now = timezone.now()
    for message in messages:
        message.stored_at = now  # auto_now_add, as save() and bulk_create set it
    by_event = {message.event_id: message for message in messages}
    size = db.ops.bulk_batch_size(fields, messages)
    row, values = f"({placeholders(fields)})", row_preparer(db, fields)
    with cursor(db) as statements:
        for start in range(0, len(messages), size):
            chunk = messages[start : start + size]
            params = [value for message in chunk for value in values(message)]
            statements.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
                f" {', '.join([row] * len(chunk))} RETURNING {pk}, {event_id}",
                params,
            )
            for new_pk, stored_event_id in statements.fetchall():
                message = by_event[event_field.to_python(stored_event_id)]
                message.pk = new_pk
                message._state.adding, message._state.db = False, db.alias


def _rooms_advance(newest: dict[int, int]) -> None:
    """Set each room's last_seq to ``newest[room]`` and mark it active, in one UPDATE (the
    caller holds the rooms' locks)."""
    if not newest:
        return
    db = connections[DEFAULT_DB_ALIAS]
    pk, last_seq, last_activity_at, table = quoted_names(
        db, ChatRoom, ChatRoom._meta.pk.column, "last_seq", "last_activity_at"
    )
    now = ChatRoom._meta.get_field("last_activity_at").get_db_prep_save(timezone.now(), db)
    cases = " ".join(["WHEN %s THEN %s"] * len(newest))
    with cursor(db) as statements:
        statements.execute(
            f"UPDATE {table} SET {last_seq} = CASE {pk} {cases} END, {last_activity_at} = %s"
            f" WHERE {pk} IN ({placeholders(newest)})",
            [*(value for pair in newest.items() for value in pair), now, *newest],
        )


def _attach_gifs(messages: list[ChatMessage]) -> None:
    """Point messages at their uploaded GIFs (one query). An upload that is gone (removed
    since, or an id no upload ever had) leaves the message without it; never a failed batch."""
    wanted = {m.gif_upload_wanted for m in messages if getattr(m, "gif_upload_wanted", None)}
    if not wanted:
        return
    uploads = {str(pk): upload for pk, upload in Upload.objects.in_bulk(list(wanted)).items()}
    for message in messages:
        upload = uploads.get(getattr(message, "gif_upload_wanted", None) or "")
        if upload is not None:
            message.gif_upload = upload


def _link_replies(replies: list[ChatMessage]) -> None:
    """Point replies at their originals, in the same room (otherwise they stay plain)."""
    if not replies:
        return
    originals = {
        str(m.event_id): m
        for m in ChatMessage.objects.filter(event_id__in={r.reply_to_event_id for r in replies})
    }
    for reply in replies:
        original = originals.get(reply.reply_to_event_id)
        if original is not None and original.room_id == reply.room_id:
            reply.reply_to = original
        else:
            logger.warning("reply %s: no original %s", reply.event_id, reply.reply_to_event_id)
    ChatMessage.objects.bulk_update([r for r in replies if r.reply_to_id], ["reply_to"])


def rooms_ensure(*, room_ids: set[int]) -> int:
    """Create placeholder rooms for ids the log mentions but the database lacks (rebuilding
    into an empty database); returns how many were created."""
    missing = room_ids - set(ChatRoom.objects.filter(pk__in=room_ids).values_list("pk", flat=True))
    if not missing:
        return 0
    ChatRoom.objects.bulk_create([ChatRoom(pk=pk, name=f"room {pk}") for pk in sorted(missing)])
    # Explicit ids leave PostgreSQL's sequence behind; move it past them.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [ChatRoom]):
            cursor.execute(sql)
    return len(missing)
