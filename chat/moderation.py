"""Room moderation a community runs itself.

Who: the room's owner (its creator), the moderators the owner appoints, and staff (every room).
A moderator cannot act on the owner or another moderator; nobody acts on staff; only the owner
(or staff) appoints and dismisses moderators.

What: mute for a while, unmute, kick, ban (a kick that lasts), unban, slow mode. An action is
checked by the web process and goes through the room's log like every change: a
``chat.moderation`` record on ``chat.events``, applied by the relay (``moderation_apply``) with
the room's next ``seq`` and announced as ``room.member_muted``, ``room.member_kicked``,
``room.member_banned``, ``room.slow_mode`` or ``room.member_role``.

Enforcement: each room socket keeps its member's ``Standing`` (loaded on open, reloaded when
an action about them or the room passes by) and refuses sends with ``muted`` (until),
``banned`` or ``slow_mode`` (retry_after); kicked and banned members' sockets close with 4403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone

from zzalu import envelope
from zzalu.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from zzalu.kafka import produce, produce_sync, topic_name
from zzalu.redis import get_async_redis, key
from zzalu.relay import row_id
from zzalu.sql import cursor, placeholders, quoted_names, rows_where_in
from zzalu.text import CLIENT_MSG_ID, NICKNAME, REASON, clean_input

from . import events
from .models import ChatMessage, ChatRoom, MessageReport, ModerationAction, RoomMember
from .services import EVENT_NAMESPACE, Submitted, UnstorableRecord

OWNER, MODERATOR, STAFF = "owner", "moderator", "staff"
MAX_MUTE = timedelta(days=30)
MAX_SLOW_MODE_SECONDS = 600
REASON_LENGTH = 200
Kind = ModerationAction.Kind

# Request -> what it becomes in the log.
ACTIONS = {
    "mute": Kind.MUTED,
    "unmute": Kind.UNMUTED,
    "kick": Kind.KICKED,
    "ban": Kind.BANNED,
    "unban": Kind.UNBANNED,
    "slow_mode": Kind.SLOW_MODE,
    "appoint": Kind.MODERATOR_ADDED,
    "dismiss": Kind.MODERATOR_REMOVED,
}
OWNER_ONLY = {Kind.MODERATOR_ADDED, Kind.MODERATOR_REMOVED}


class Muted(ServiceError):
    status = 403
    code = "muted"


class Banned(ServiceError):
    status = 403
    code = "banned"


class SlowMode(ServiceError):
    status = 429
    code = "slow_mode"


# --- who may do what -------------------------------------------------------------------------


# Staff who act in every room: those with the admin's permission to change messages (a
# view-only staff member runs nothing destructive, by any way in).
STAFF_PERMISSION = "chat.change_chatmessage"
REPORTS_PERMISSION = "chat.change_messagereport"  # the admin's report queue, every room


def is_staff(user) -> bool:
    """Moderates every room (see STAFF_PERMISSION; only staff accounts are asked: a
    permission lookup is two queries, and a member opening a socket makes none)."""
    if not (user and user.is_authenticated):
        return False
    return user.is_superuser or (user.is_staff and user.has_perm(STAFF_PERMISSION))


def is_protected(user) -> bool:
    """Nobody acts on staff, whatever their permissions."""
    return bool(user.is_staff or user.is_superuser)


def role_in(room: ChatRoom, user) -> str | None:
    """owner, moderator or staff (what the member may do in the room), or None."""
    if not (user and user.is_authenticated):
        return None
    if is_staff(user):
        return STAFF
    if room.owner_id == user.pk:
        return OWNER
    member = RoomMember.objects.filter(room=room, user=user, is_moderator=True).exists()
    return MODERATOR if member else None


def _authorize(*, room: ChatRoom, actor_role: str | None, target, kind: str) -> None:
    if actor_role is None:
        raise Forbidden("Only the room's owner, its moderators and staff can do that.")
    if kind in OWNER_ONLY and actor_role == MODERATOR:
        raise Forbidden("Only the room's owner appoints and dismisses moderators.")
    if target is None:
        return
    if is_protected(target):
        raise Forbidden("Nobody acts on staff.")
    if target.pk == room.owner_id and actor_role != STAFF:
        raise Forbidden("Nobody but staff acts on the room's owner.")
    target_is_moderator = RoomMember.objects.filter(
        room=room, user=target, is_moderator=True
    ).exists()
    if actor_role == MODERATOR and target_is_moderator:
        raise Forbidden("A moderator cannot act on another moderator.")


# --- the web side ------------------------------------------------------------------------------


def _request_clean(payload: dict[str, Any]) -> dict[str, Any]:
    action = payload.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}.", field="action")
    clean: dict[str, Any] = {"kind": ACTIONS[action]}
    if clean["kind"] == Kind.SLOW_MODE:
        seconds = payload.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise InvalidInput("seconds must be a whole number.", field="seconds")
        if not 0 <= seconds <= MAX_SLOW_MODE_SECONDS:
            raise InvalidInput(f"seconds: 0 (off) to {MAX_SLOW_MODE_SECONDS}.", field="seconds")
        clean["seconds"] = seconds
        return clean
    user_id = payload.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or not 0 < user_id < 2**63:
        raise InvalidInput("user_id must be a member's id.", field="user_id")
    clean["user_id"] = user_id
    if clean["kind"] == Kind.MUTED:
        duration = payload.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise InvalidInput("duration must be a number of seconds.", field="duration")
        if not 0 < duration <= MAX_MUTE.total_seconds():
            raise InvalidInput("duration: 1 s to 30 days.", field="duration")
        clean["duration"] = duration
    if clean["kind"] == Kind.BANNED:
        reason = payload.get("reason")
        clean["reason"] = "" if reason is None else clean_input(reason, REASON, field="reason")
    return clean


def moderation_record(*, room_id: int, actor, payload: dict[str, Any], client_msg_id: str) -> dict:
    """The record for an action the actor may take now, or the ServiceError saying why not."""
    clean = _request_clean(payload)
    room = ChatRoom.objects.filter(pk=room_id).first()
    if room is None:
        raise NotFound("No such room.")
    target = None
    if "user_id" in clean:
        target = get_user_model().objects.filter(pk=clean["user_id"], is_active=True).first()
        if target is None:
            raise NotFound("No such member.", field="user_id")
        if target.pk == actor.pk:
            raise InvalidInput("You cannot do that to yourself.", field="user_id")
    actor_role = role_in(room, actor)
    _authorize(room=room, actor_role=actor_role, target=target, kind=clean["kind"])
    at = timezone.now()
    fields: dict[str, Any] = {}
    if clean["kind"] == Kind.MUTED:
        fields["until"] = envelope.iso(at + timedelta(seconds=clean["duration"]))
    if clean["kind"] == Kind.BANNED:
        fields["reason"] = clean["reason"]
    if clean["kind"] == Kind.SLOW_MODE:
        fields["seconds"] = clean["seconds"]
    action_id = uuid.uuid5(
        EVENT_NAMESPACE, f"moderation:{actor.pk}:{room_id}:{client_msg_id}:{payload['action']}"
    )
    return envelope.record(
        events.CHAT_MODERATION,
        action_id=str(action_id),
        room_id=room_id,
        kind=clean["kind"],
        actor={"id": actor.pk, "nickname": actor.display_name, "role": actor_role},
        target=None if target is None else {"id": target.pk, "nickname": target.display_name},
        client_msg_id=client_msg_id,
        at=envelope.iso(at),
        **fields,
    )


def moderation_act(*, room_id: int, actor, payload: dict[str, Any]) -> str:
    """REST: check and hand the action to Kafka, waiting for the broker; returns its id."""
    client_msg_id = payload.get("client_msg_id") or uuid.uuid4().hex
    client_msg_id = clean_input(client_msg_id, CLIENT_MSG_ID, field="client_msg_id")
    record = moderation_record(
        room_id=room_id, actor=actor, payload=payload, client_msg_id=client_msg_id
    )
    produce_sync(topic_name("chat"), str(room_id), envelope.encode(record))
    return record["action_id"]


async def moderation_submit(*, room_id: int, actor, payload: dict[str, Any]) -> Submitted:
    """The room socket's ``room.moderate`` frame: acknowledged like a send."""
    client_msg_id = payload.get("client_msg_id")
    if not client_msg_id:
        raise InvalidInput("client_msg_id is required.", field="client_msg_id")
    client_msg_id = clean_input(client_msg_id, CLIENT_MSG_ID, field="client_msg_id")
    record = await database_sync_to_async(moderation_record)(
        room_id=room_id, actor=actor, payload=payload, client_msg_id=client_msg_id
    )
    acked = await produce(topic_name("chat"), str(room_id), envelope.encode(record))
    return Submitted(
        ack_id=record["action_id"], event_id=record["action_id"], client_msg_id=client_msg_id,
        acked=acked,
    )  # fmt: skip


# --- enforcement (room sockets) ----------------------------------------------------------------


@dataclass
class Standing:
    """What a member may do in a room right now, as a socket keeps it."""

    user_id: int | None
    exempt: bool = False  # owner, moderators and staff: no slow mode
    muted_until: datetime | None = None
    banned: bool = False
    ban_reason: str = ""
    slow_mode_seconds: int = 0
    last_seq: int = 0  # the room's newest seq when this was read (a socket's opening tail)
    loaded_at: datetime = field(default_factory=timezone.now)

    def refusal(self, *, sending: bool) -> ServiceError | None:
        """Why the member may not send (or react) now; slow mode is checked separately."""
        if self.banned:
            return Banned("You are banned from this room.", reason=self.ban_reason)
        if self.muted_until is not None and self.muted_until > timezone.now():
            return Muted("You are muted in this room.", until=envelope.iso(self.muted_until))
        return None


def standing_of(*, room_id: int, user) -> Standing | None:
    """None when there is no such room."""
    room = _rooms_standing({room_id}).get(room_id)
    if room is None:
        return None
    member = None
    if user and user.is_authenticated:
        member = _memberships([room_id], {user.pk}).get((room_id, user.pk))
    return _standing(room, user, member)


_STANDING_ROOM = ("id", "owner_id", "slow_mode_seconds", "last_seq")  # what a standing reads


def _standing(room: dict, user, member: _Membership | None) -> Standing:
    if not (user and user.is_authenticated):
        return Standing(
            user_id=None, slow_mode_seconds=room["slow_mode_seconds"], last_seq=room["last_seq"]
        )
    return Standing(
        user_id=user.pk,
        exempt=is_staff(user)
        or room["owner_id"] == user.pk
        or bool(member and member.is_moderator),
        muted_until=member.muted_until if member else None,
        banned=bool(member and member.banned_at),
        ban_reason=member.ban_reason if member else "",
        slow_mode_seconds=room["slow_mode_seconds"],
        last_seq=room["last_seq"],
    )


def rooms_enter(entries: list[tuple[int, Any]]) -> list[Standing | None]:
    """Sockets opening, each (room id, user): each member's standing in the room (None: no
    such room), and members not banned join it (opening a room while logged in joins it; a
    new member starts with everything so far read). Three queries however many sockets open
    together (zzalu.gathered): the rooms, their members, the new members' rows — written as
    SQL, as the relay's batch is: a crowd opening sockets ran them hundreds of times a second
    on the one database thread, and the ORM spent more building them than the database
    running them."""
    rooms = _rooms_standing({room_id for room_id, _ in entries})
    user_ids = {user.pk for _, user in entries if user and user.is_authenticated}
    members = _memberships(list(rooms), user_ids) if rooms and user_ids else {}
    standings: list[Standing | None] = []
    joining: dict[tuple[int, int], int] = {}  # (room, user) -> the room's tail: all read
    for room_id, user in entries:
        room = rooms.get(room_id)
        if room is None:
            standings.append(None)
            continue
        member = members.get((room_id, user.pk)) if user and user.is_authenticated else None
        standing = _standing(room, user, member)
        standings.append(standing)
        if standing.user_id is not None and member is None:
            joining[(room_id, user.pk)] = room["last_seq"]
    if joining:
        _members_join(joining)
    return standings


class _Membership(NamedTuple):
    """What a standing needs of a RoomMember row."""

    is_moderator: bool
    muted_until: datetime | None
    banned_at: datetime | None
    ban_reason: str


def _rooms_standing(room_ids: set[int]) -> dict[int, dict[str, Any]]:
    rows = rows_where_in(ChatRoom, _STANDING_ROOM, id=list(room_ids))
    return {row[0]: dict(zip(_STANDING_ROOM, row, strict=True)) for row in rows}


def _memberships(room_ids: list[int], user_ids: set[int]) -> dict[tuple[int, int], _Membership]:
    rows = rows_where_in(
        RoomMember, ("room", "user", *_Membership._fields), room=room_ids, user=list(user_ids)
    )
    return {(room_id, user_id): _Membership(*rest) for room_id, user_id, *rest in rows}


def _members_join(joining: dict[tuple[int, int], int]) -> None:
    """New members' rows in one INSERT (per as many rows as the database takes); a member who
    joined meanwhile (another tab, another web process) is left as they are."""
    db = connections[DEFAULT_DB_ALIAS]
    fields = [
        RoomMember._meta.get_field(name)
        for name in ("room", "user", "last_read_seq", "joined_at", "is_moderator", "ban_reason")
    ]
    *columns, table = quoted_names(db, RoomMember, *(f.column for f in fields))
    now = fields[3].get_db_prep_save(timezone.now(), db)
    rows = [(room_id, user_id, seq, now, False, "") for (room_id, user_id), seq in joining.items()]
    size = db.ops.bulk_batch_size(fields, rows)
    row = f"({placeholders(fields)})"
    with cursor(db) as statements:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            statements.execute(
                f"INSERT INTO {table} ({', '.join(columns)})"
                f" VALUES {', '.join([row] * len(chunk))} ON CONFLICT DO NOTHING",
                [value for values in chunk for value in values],
            )


async def slow_mode_take(*, room_id: int, standing: Standing) -> None:
    """SlowMode with ``retry_after`` if the member sent in the last N seconds (shared by all
    their sockets through Redis); nothing when slow mode is off or they are exempt."""
    if not standing.slow_mode_seconds or standing.exempt or standing.user_id is None:
        return
    client = get_async_redis()
    name = key("slow", room_id, standing.user_id)
    if await client.set(name, 1, nx=True, ex=standing.slow_mode_seconds):
        return
    retry_after = max(1, await client.ttl(name))
    raise SlowMode(
        f"Slow mode: one message every {standing.slow_mode_seconds} s.", retry_after=retry_after
    )


# --- the relay side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingModeration:
    action_id: uuid.UUID
    room_id: int
    kind: str
    actor_id: int | None
    actor_nickname: str
    actor_role: str
    target_id: int | None
    target_nickname: str
    at: datetime
    until: datetime | None = None
    seconds: int | None = None
    reason: str = ""

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> IncomingModeration:
        kind, actor, target = record["kind"], record["actor"], record["target"]
        if kind not in Kind.values or actor.get("role") not in (OWNER, MODERATOR, STAFF):
            raise ValueError(f"kind {kind!r} by {actor.get('role')!r}"[:100])
        if (target is None) != (kind == Kind.SLOW_MODE):
            raise ValueError("slow mode has no target; every other action has one")
        extra: dict[str, Any] = {}
        if kind == Kind.MUTED:
            extra["until"] = _aware(record["until"])
        if kind == Kind.SLOW_MODE:
            seconds = record["seconds"]
            if isinstance(seconds, bool) or not 0 <= int(seconds) <= MAX_SLOW_MODE_SECONDS:
                raise ValueError("seconds out of range")
            extra["seconds"] = int(seconds)
        if kind == Kind.BANNED:
            extra["reason"] = clean_input(record.get("reason") or "", REASON, field="reason")
        return cls(
            action_id=uuid.UUID(str(record["action_id"])),
            room_id=row_id(record["room_id"]),
            kind=kind,
            actor_id=None if actor.get("id") is None else row_id(actor["id"]),
            actor_nickname=clean_input(actor.get("nickname") or "", NICKNAME, field="nickname"),
            actor_role=actor["role"],
            target_id=None if target is None else row_id(target["id"]),
            target_nickname=""
            if target is None
            else clean_input(target.get("nickname") or "", NICKNAME, field="nickname"),
            at=_aware(record["at"]),
            **extra,
        )


def _aware(value: Any) -> datetime:
    moment = envelope.parse_iso(value)
    if moment.tzinfo is None:
        raise ValueError("a time without a time zone")
    envelope.iso(moment)  # OverflowError for the far ends of the calendar
    return moment


def moderation_apply(item: IncomingModeration, *, strict: bool = True) -> ModerationAction | None:
    """Apply one action and number it (a redelivered one is returned again); a room or target
    the database does not have raises UnstorableRecord (skipped when rebuilding)."""
    stored = ModerationAction.objects.filter(action_id=item.action_id).first()
    if stored is not None:
        return stored
    with transaction.atomic():
        last_seq = (
            ChatRoom.objects.select_for_update(no_key=True)
            .filter(pk=item.room_id)
            .values_list("last_seq", flat=True)
            .first()
        )
        users = get_user_model().objects
        known = set(users.filter(pk__in={item.actor_id, item.target_id} - {None}).values_list(
            "pk", flat=True
        ))  # fmt: skip
        missing = "room" if last_seq is None else None
        if item.target_id is not None and item.target_id not in known:
            missing = missing or "member"
        if missing:
            if strict:
                raise UnstorableRecord(f"moderation for an unknown {missing}")
            return None
        _apply(item, last_seq)
        action = ModerationAction.objects.create(
            action_id=item.action_id, room_id=item.room_id, seq=last_seq + 1, kind=item.kind,
            actor_id=item.actor_id if item.actor_id in known else None,
            actor_nickname=item.actor_nickname, actor_role=item.actor_role,
            target_id=item.target_id, target_nickname=item.target_nickname,
            until=item.until, seconds=item.seconds, reason=item.reason, at=item.at,
        )  # fmt: skip
        ChatRoom.objects.filter(pk=item.room_id).update(last_seq=action.seq)
    return action


def _apply(item: IncomingModeration, last_seq: int) -> None:
    if item.kind == Kind.SLOW_MODE:
        ChatRoom.objects.filter(pk=item.room_id).update(slow_mode_seconds=item.seconds)
        return
    if item.kind == Kind.KICKED:
        return  # nothing to keep: the sockets close, the member may come back
    member, _ = RoomMember.objects.get_or_create(
        room_id=item.room_id, user_id=item.target_id, defaults={"last_read_seq": last_seq}
    )
    changes = {
        Kind.MUTED: {"muted_until": item.until},
        Kind.UNMUTED: {"muted_until": None},
        Kind.BANNED: {"banned_at": item.at, "ban_reason": item.reason, "is_moderator": False},
        Kind.UNBANNED: {"banned_at": None, "ban_reason": ""},
        Kind.MODERATOR_ADDED: {"is_moderator": True},
        Kind.MODERATOR_REMOVED: {"is_moderator": False},
    }[item.kind]
    RoomMember.objects.filter(pk=member.pk).update(**changes)


# --- reports -------------------------------------------------------------------------------------


def report_create(*, room_id: int, event_id: str, reporter, reason: Any) -> MessageReport:
    """A member reports a message once; Conflict ``already_reported`` the second time."""
    reason = clean_input(reason, REASON, field="reason")
    if not reason:
        raise InvalidInput("Say why you report it.", field="reason")
    message = ChatMessage.objects.filter(room_id=room_id, event_id=event_id).first()
    if message is None:
        raise NotFound("No such message in this room.")
    try:
        with transaction.atomic():
            return MessageReport.objects.create(message=message, reporter=reporter, reason=reason)
    except IntegrityError as exc:
        raise Conflict("You already reported this message.", code="already_reported") from exc


def reports_resolve(*, reports, user) -> int:
    """Mark reports handled: staff with the report queue's permission, or whoever moderates
    every room the reports are in."""
    if not user.has_perm(REPORTS_PERMISSION):
        rooms = ChatRoom.objects.filter(pk__in=reports.values("message__room_id"))
        if not rooms or any(role_in(room, user) is None for room in rooms):
            raise Forbidden("Only the room's owner, its moderators and staff handle reports.")
    return reports.filter(resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=user
    )
