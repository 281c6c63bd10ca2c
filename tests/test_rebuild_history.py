"""The log is the source of truth: replaying chat.events into an empty database reproduces
every room's messages, seqs and removals."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from chat.models import ChatMessage, ChatRoom
from chat.services import message_remove

from .conftest import make_room, make_user
from .ws import send_until_acked

FIELDS = ("room_id", "seq", "event_id", "sender_id", "sender_nickname", "body", "gif_url",
          "client_msg_id", "sent_at", "is_removed")  # fmt: skip


def history(room_ids):
    return list(
        ChatMessage.objects.filter(room_id__in=room_ids)
        .order_by("room_id", "seq")
        .values_list(*FIELDS)
    )


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
    victim = ChatMessage.objects.get(room=rooms[1], seq=5)
    with live.room_socket(rooms[1]) as watcher:
        message_remove(message=victim, user=make_user(staff=True, is_superuser=True))
        assert watcher.recv_type("chat.removed")["seq"] == 5

    room_ids = [r.pk for r in rooms]
    before = history(room_ids)
    assert len(before) == 3 * 40 and sum(row[-1] for row in before) == 1

    ChatMessage.objects.all().delete()
    ChatRoom.objects.all().delete()
    out = StringIO()
    call_command("rebuild_chat_history", "--create-missing-rooms", stdout=out)

    assert history(room_ids) == before
    assert "messages stored" in out.getvalue()
    assert [r.last_seq for r in ChatRoom.objects.filter(pk__in=room_ids)] == [40, 40, 40]


def test_rebuild_refuses_a_database_that_already_has_messages(live):
    import pytest
    from django.core.management.base import CommandError

    room, member = make_room(), make_user()
    with live.room_socket(room, member) as sock:
        sock.send(type="chat.send", client_msg_id="x", body="x")
        sock.recv_type("chat.message")
    with pytest.raises(CommandError, match="empty"):
        call_command("rebuild_chat_history")
