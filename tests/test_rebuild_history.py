"""The log is the source of truth: replaying chat.events into an empty database reproduces
every room's messages and changes (edits, deletions, reactions, replies) and the seqs of all."""

from __future__ import annotations

import re
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chat.changes import message_remove
from chat.models import ChatMessage, ChatRoom, MessageChange, ModerationAction, Reaction
from chat.moderation import moderation_act

from .conftest import make_room, make_user
from .ws import send_until_acked

MESSAGE_FIELDS = ("room_id", "seq", "event_id", "sender_id", "sender_nickname", "body", "gif_url",
                  "client_msg_id", "sent_at", "reply_to__event_id", "edited_at", "is_deleted",
                  "deleted_by", "kafka_partition", "kafka_offset")  # fmt: skip
CHANGE_FIELDS = ("room_id", "seq", "change_id", "message__event_id", "kind", "actor_id",
                 "actor_nickname", "client_msg_id", "body", "emoji", "count", "deleted_by",
                 "at")  # fmt: skip
REACTION_FIELDS = ("message__event_id", "user_id", "emoji", "created_at")
ACTION_FIELDS = ("room_id", "seq", "action_id", "kind", "actor_id", "actor_role", "target_id",
                 "until", "seconds", "reason", "at")  # fmt: skip


def history(room_ids) -> dict[str, list]:
    """Everything the rooms' pages and catch-up are made of."""
    return {
        "messages": list(
            ChatMessage.objects.filter(room_id__in=room_ids)
            .order_by("room_id", "seq")
            .values_list(*MESSAGE_FIELDS)
        ),
        "changes": list(
            MessageChange.objects.filter(room_id__in=room_ids)
            .order_by("room_id", "seq")
            .values_list(*CHANGE_FIELDS)
        ),
        "reactions": sorted(
            Reaction.objects.filter(message__room_id__in=room_ids).values_list(*REACTION_FIELDS)
        ),
        "actions": list(
            ModerationAction.objects.filter(room_id__in=room_ids)
            .order_by("room_id", "seq")
            .values_list(*ACTION_FIELDS)
        ),
        "last_seqs": list(
            ChatRoom.objects.filter(pk__in=room_ids).order_by("pk").values_list("pk", "last_seq")
        ),
    }


def unnumbered(rows: dict[str, list]) -> dict[str, list]:
    """The history without seqs (rows by id), to tell a numbering difference from others."""
    return {
        **rows,
        "messages": sorted((row[:1] + row[2:] for row in rows["messages"]), key=lambda r: r[1]),
        "changes": sorted((row[:1] + row[2:] for row in rows["changes"]), key=lambda r: r[1]),
    }


def renumbered(before: dict[str, list], after: dict[str, list]) -> dict:
    """Messages and changes whose seq differs: {event_id or change_id: (before, after)}."""
    seqs = [{row[2]: row[1] for row in h["messages"] + h["changes"]} for h in (before, after)]
    return {
        str(key): (seq, seqs[1].get(key)) for key, seq in seqs[0].items() if seqs[1].get(key) != seq
    }


def change(sock, type_: str, event_id: str, **fields) -> dict:
    """Send a change and wait for its answer (a chat.ack, or an error frame)."""
    client_msg_id = uuid.uuid4().hex
    sock.send(type=type_, client_msg_id=client_msg_id, event_id=str(event_id), **fields)
    return sock.answer(client_msg_id)


def changed(sock, type_: str, event_id: str, **fields) -> None:
    answer = change(sock, type_, event_id, **fields)
    assert answer == {"type": "chat.ack", "client_msg_id": answer["client_msg_id"],
                      "event_id": str(event_id)}  # fmt: skip


def test_replaying_the_log_into_an_empty_database_reproduces_the_history(live):
    rooms, members = [make_room() for _ in range(3)], [make_user() for _ in range(2)]
    sockets = [live.room_socket(room, member) for room in rooms for member in members]
    try:
        for i in range(20):
            for n, sock in enumerate(sockets):
                gif = "https://media.test/x.gif" if i % 7 == 0 else None
                send_until_acked(sock, f"{n}:{i}", f"{n}-{i}", gif_url=gif)
        send_until_acked(sockets[0], "a retry, stored once", "0-3")
        for sock in sockets:
            sock.collect("chat.message", 40, timeout=60)  # 2 senders x 20 per room
    finally:
        for sock in sockets:
            sock.close()

    # Changes in room 1, interleaved with new messages, as a conversation goes on.
    room = rooms[1]
    alice, bob = members
    moderator = make_user(staff=True, is_superuser=True)

    def of(member, seq):
        message = ChatMessage.objects.get(room=room, seq=seq)
        assert message.sender_id == member.pk
        return message.event_id

    def victim_id(seq):
        return str(ChatMessage.objects.get(room=room, seq=seq).event_id)

    # Seqs 1-40 alternate: odd ones alice's, even ones bob's.
    with (
        live.room_socket(room, alice) as a,
        live.room_socket(room, bob) as b,
        live.room_socket(room, moderator) as m,
    ):
        changed(a, "chat.edit", of(alice, 1), body="고친 글")
        send_until_acked(b, "그 글에 답장", "reply-1", reply_to=str(of(alice, 1)))
        changed(b, "chat.react", of(alice, 1), emoji="👍")
        changed(a, "chat.react", of(alice, 1), emoji="👍")
        changed(a, "chat.react", of(alice, 3), emoji="😂")
        changed(b, "chat.react", of(alice, 3), emoji="🔥")
        changed(b, "chat.unreact", of(alice, 1), emoji="👍")  # taken back
        changed(b, "chat.react", of(alice, 3), emoji="🔥")  # already there: no seq
        send_until_acked(a, "또 한 마디", "more-1")
        changed(a, "chat.delete", of(alice, 7))  # by its author
        changed(m, "chat.delete", of(bob, 8))  # by staff, from the socket
        send_until_acked(b, "지워진 글에 답장했던 글", "reply-2", reply_to=str(of(alice, 9)))
        changed(a, "chat.delete", of(alice, 9))  # a reply's original, deleted afterwards
        with live.room_socket(room) as watcher:
            victim = ChatMessage.objects.get(room=room, seq=5)
            message_remove(message=victim, user=moderator)  # by staff, from the admin
            while (removed := watcher.recv_type("chat.deleted"))["event_id"] != victim_id(5):
                pass  # earlier deletions, stored after the watcher came
            # A change takes its own seq: the next one of the room, not the message's.
            assert removed["seq"] > 40
            # An edit right behind a delete: the web server may still accept it (the delete
            # not stored yet); the relay then drops it without a seq, and so must the rebuild.
            changed(a, "chat.delete", of(alice, 11))
            change(a, "chat.edit", of(alice, 11), body="너무 늦은 수정")
            # Moderation takes its seqs in the same sequence, and is rebuilt with them.
            for payload in (
                {"action": "mute", "user_id": bob.pk, "duration": 600},
                {"action": "slow_mode", "seconds": 0},
            ):
                moderation_act(room_id=room.pk, actor=moderator, payload=payload)
            last = send_until_acked(a, "마지막", "last-1")
            while watcher.recv_type("chat.message")["event_id"] != last["event_id"]:
                pass  # everything before it in the room's log is stored

    room_ids = [r.pk for r in rooms]
    before = history(room_ids)
    messages = {row[2]: dict(zip(MESSAGE_FIELDS, row, strict=True)) for row in before["messages"]}
    assert len(messages) == 3 * 40 + 4
    assert [m["is_deleted"] for m in messages.values()].count(True) == 5
    assert sorted(m["deleted_by"] for m in messages.values() if m["is_deleted"]) == [
        "author", "author", "author", "staff", "staff",
    ]  # fmt: skip
    assert messages[of(alice, 1)]["body"] == "고친 글" and messages[of(alice, 1)]["edited_at"]
    replies = {m["event_id"]: m["reply_to__event_id"] for m in messages.values()}
    assert sorted(filter(None, replies.values())) == sorted([of(alice, 1), of(alice, 9)])
    assert sorted((r[0], r[2]) for r in before["reactions"]) == sorted(
        [(of(alice, 1), "👍"), (of(alice, 3), "😂"), (of(alice, 3), "🔥")]
    )
    kinds = [row[4] for row in before["changes"]]
    assert kinds.count("reacted") == 4 and kinds.count("unreacted") == 1
    assert kinds.count("deleted") == 5 and kinds.count("edited") == 1
    # One sequence per room for messages and changes: 1..last_seq, none twice, none missing.
    entries = before["messages"] + before["changes"] + before["actions"]
    for room_id, last_seq in before["last_seqs"]:
        seqs = [row[1] for row in entries if row[0] == room_id]
        assert sorted(seqs) == list(range(1, last_seq + 1))
    assert [row[3] for row in before["actions"]] == ["muted", "slow_mode"]
    assert dict(before["last_seqs"])[room.pk] == 40 + 4 + len(before["changes"]) + 2

    ModerationAction.objects.all().delete()
    MessageChange.objects.all().delete()
    Reaction.objects.all().delete()
    ChatMessage.objects.all().delete()
    ChatRoom.objects.all().delete()
    out = StringIO()
    call_command("rebuild_chat_history", "--create-missing-rooms", stdout=out)

    after = history(room_ids)
    assert unnumbered(after) == unnumbered(before)  # the same rows, whatever their seqs
    assert renumbered(before, after) == {}  # {message or change id: (live seq, rebuilt seq)}
    assert after == before
    counted = re.search(r"(\d+) messages and (\d+) changes stored", out.getvalue())
    assert counted, out.getvalue()
    assert tuple(map(int, counted.groups())) == (
        ChatMessage.objects.count(),
        MessageChange.objects.count(),
    )


def test_rebuild_refuses_a_database_that_already_has_messages(live):
    room, member = make_room(), make_user()
    with live.room_socket(room, member) as sock:
        sock.send(type="chat.send", client_msg_id="x", body="x")
        sock.recv_type("chat.message")
    with pytest.raises(CommandError, match="empty"):
        call_command("rebuild_chat_history")
