"""The room's log carries changes: edit, delete, reactions and replies, live and on catch-up
(socket -> Kafka -> relay -> PostgreSQL/SQLite -> Redis channel layer -> sockets)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from chat.models import ChatMessage, MessageChange, Reaction

from .conftest import make_room, make_user

pytestmark = pytest.mark.services


def frame(sock, type_: str, **fields) -> str:
    """Send a frame with a fresh client_msg_id (unless given); returns the id."""
    client_msg_id = fields.pop("client_msg_id", None) or uuid.uuid4().hex
    sock.send(type=type_, client_msg_id=client_msg_id, **fields)
    return client_msg_id


def say(sock, body: str, **extra) -> dict:
    """Send a message and wait for it in the room; returns its chat.message frame."""
    cid = frame(sock, "chat.send", body=body, **extra)
    assert sock.recv_type("chat.ack")["client_msg_id"] == cid
    while (message := sock.recv_type("chat.message"))["client_msg_id"] != cid:
        pass  # someone else's, sent before
    return message


def history_of(api, room, user) -> list[dict]:
    api.force_authenticate(user)
    response = api.get(f"/api/rooms/{room.pk}/messages/")
    assert response.status_code == 200
    return response.json()["results"]


def refused(sock, type_: str, **fields) -> dict:
    cid = frame(sock, type_, **fields)
    error = sock.recv_type("error")
    assert error["client_msg_id"] == cid
    return error


def test_edit_delete_and_reactions_reach_everyone_with_their_own_seq(live, api):
    room, alice, bob = make_room(), make_user(nickname="앨리스"), make_user(nickname="밥")
    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        original = say(a, "오타 있음")
        b.recv_type("chat.message")
        eid = original["event_id"]

        cid = frame(a, "chat.edit", event_id=eid, body="오타 없음")
        assert a.recv_type("chat.ack") == {
            "type": "chat.ack",
            "client_msg_id": cid,
            "event_id": eid,
        }
        edited = b.recv_type("chat.edited")
        assert a.recv_type("chat.edited") == edited
        assert edited["seq"] == 2 and edited["event_id"] == eid and edited["room_id"] == room.pk
        assert edited["body"] == "오타 없음" and edited["edited_at"].endswith("Z")

        frame(b, "chat.react", event_id=eid, emoji="👍")
        b.recv_type("chat.ack")  # Kafka has it: alice's comes after it in the room's log
        frame(a, "chat.react", event_id=eid, emoji="👍")
        first, second = b.collect("chat.reaction", 2)
        assert (first["seq"], first["count"], first["added"]) == (3, 1, True)
        assert first["user"] == {"id": bob.pk, "nickname": "밥"} and first["emoji"] == "👍"
        assert (second["seq"], second["count"], second["user"]["id"]) == (4, 2, alice.pk)
        frame(b, "chat.unreact", event_id=eid, emoji="👍")
        taken_back = a.collect("chat.reaction", 3)[-1]
        assert (taken_back["seq"], taken_back["count"], taken_back["added"]) == (5, 1, False)

        frame(a, "chat.delete", event_id=eid)
        deleted = b.recv_type("chat.deleted")
        assert deleted == {
            "type": "chat.deleted",
            "room_id": room.pk,
            "seq": 6,
            "event_id": eid,
            "deleted_by": "author",
        }

    stored = ChatMessage.objects.get(event_id=eid)
    assert stored.is_deleted and stored.deleted_by == "author" and stored.edited_at
    assert list(Reaction.objects.filter(message=stored).values_list("user", "emoji")) == [
        (alice.pk, "👍")
    ]
    room.refresh_from_db()
    assert room.last_seq == 6
    history = history_of(api, room, alice)
    assert history[0]["deleted"] and history[0]["body"] == "" and history[0]["gif_url"] is None
    assert history[0]["deleted_by"] == "author"
    assert history[0]["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]


def test_a_reply_names_its_original_and_history_shows_it(live, api):
    room, alice, bob = make_room(), make_user(nickname="앨리스"), make_user()
    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        original = say(a, "점심 뭐 먹지? " + "아주 " * 40)
        reply = say(b, "짜장면", reply_to=original["event_id"])
        assert a.recv_type("chat.message") == reply
    assert reply["reply_to"]["event_id"] == original["event_id"]
    assert reply["reply_to"]["sender"] == {"id": alice.pk, "nickname": "앨리스"}
    assert original["body"].startswith(reply["reply_to"]["excerpt"])
    assert 0 < len(reply["reply_to"]["excerpt"]) <= 80
    assert original["reply_to"] is None
    history = history_of(api, room, bob)
    assert history[1]["reply_to"] == reply["reply_to"]


def test_every_refusal_is_an_error_frame_naming_the_client_msg_id(live):
    room, other_room = make_room(), make_room()
    alice, bob = make_user(), make_user()
    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        mine = say(a, "내 메시지")["event_id"]
        with live.room_socket(other_room, alice) as elsewhere:
            there = say(elsewhere, "다른 방")["event_id"]
        missing = str(uuid.uuid4())

        assert refused(a, "chat.edit", event_id=missing, body="x")["code"] == "not_found"
        assert refused(a, "chat.edit", event_id=there, body="x")["code"] == "not_found"
        assert refused(a, "chat.react", event_id=there, emoji="👍")["code"] == "not_found"
        assert refused(a, "chat.send", body="답장", reply_to=there)["code"] == "not_found"
        assert refused(b, "chat.edit", event_id=mine, body="x")["code"] == "forbidden"
        assert refused(b, "chat.delete", event_id=mine)["code"] == "forbidden"
        for bad in ("", "a", "👍👍", "👍 x", "<b>", "\x00"):
            error = refused(b, "chat.react", event_id=mine, emoji=bad)
            assert error["code"] == "invalid_payload", bad
        assert refused(a, "chat.edit", event_id="not-a-uuid", body="x")["code"] == (
            "invalid_payload"
        )
        assert refused(a, "chat.edit", event_id=mine, body="")["code"] == "invalid_payload"
        assert refused(a, "chat.edit", event_id=mine, body="x" * 2001)["code"] == (
            "invalid_payload"
        )
        with override_settings(CHAT_EDIT_WINDOW_SECONDS=600):
            ChatMessage.objects.filter(event_id=mine).update(
                sent_at=timezone.now() - timedelta(seconds=601)
            )
        assert refused(a, "chat.edit", event_id=mine, body="늦음")["code"] == "edit_window_closed"

        frame(a, "chat.delete", event_id=mine)
        b.recv_type("chat.deleted")
        assert refused(a, "chat.edit", event_id=mine, body="x")["code"] == "deleted"
        assert refused(b, "chat.react", event_id=mine, emoji="😂")["code"] == "deleted"
        assert refused(a, "chat.delete", event_id=mine)["code"] == "deleted"
        assert refused(b, "chat.send", body="답장", reply_to=mine)["code"] == "deleted"

    with live.room_socket(room) as anonymous:
        assert refused(anonymous, "chat.react", event_id=mine, emoji="👍")["code"] == (
            "auth_required"
        )
    assert MessageChange.objects.filter(room=room).count() == 1  # only the delete


def test_staff_delete_any_message_and_the_admin_remove_is_the_same_change(live):
    room, alice, moderator = make_room(), make_user(), make_user(staff=True, is_superuser=True)
    with live.room_socket(room, alice) as a, live.room_socket(room, moderator) as m:
        first = say(a, "하나")["event_id"]
        second = say(a, "둘")["event_id"]
        frame(m, "chat.delete", event_id=first)
        assert a.recv_type("chat.deleted")["deleted_by"] == "staff"
        from chat.changes import message_remove

        message_remove(message=ChatMessage.objects.get(event_id=second), user=moderator)
        removed = a.recv_type("chat.deleted")
        assert (removed["event_id"], removed["deleted_by"], removed["seq"]) == (second, "staff", 4)


def test_retried_changes_are_stored_once_and_acknowledged_each_time(live):
    room, alice, bob = make_room(), make_user(), make_user()
    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        eid = say(a, "원문")["event_id"]
        for _ in range(3):
            frame(a, "chat.edit", client_msg_id="edit-1", event_id=eid, body="고침")
            assert a.recv_type("chat.ack")["client_msg_id"] == "edit-1"
        for _ in range(3):
            frame(b, "chat.react", client_msg_id="react-1", event_id=eid, emoji="🔥")
            assert b.recv_type("chat.ack")["client_msg_id"] == "react-1"
        # A second reaction with another id is acknowledged and changes nothing.
        frame(b, "chat.react", client_msg_id="react-2", event_id=eid, emoji="🔥")
        b.recv_type("chat.ack")
        assert b.recv_type("chat.edited")["seq"] == 2
        assert b.recv_type("chat.reaction")["seq"] == 3
        assert b.quiet_for(2, "chat.reaction") == [] and b.quiet_for(0, "chat.edited") == []
    assert MessageChange.objects.filter(room=room).count() == 2
    assert Reaction.objects.filter(message__event_id=eid).count() == 1


def test_a_member_who_was_away_catches_up_to_the_same_room(live, api):
    """A member disconnected during an edit, a delete and reactions reconnects with after_seq
    and ends with the same bodies, tombstones and reaction counts as one who stayed."""
    room, alice, bob, carol = make_room(), make_user(), make_user(), make_user()
    with live.room_socket(room, alice) as a, live.room_socket(room, carol) as stayed:
        away = live.room_socket(room, bob)
        keep = say(a, "남는 글")["event_id"]
        doomed = say(a, "지울 글")["event_id"]
        seen = away.collect("chat.message", 2)[-1]["seq"]
        away.close()
        frame(a, "chat.edit", event_id=keep, body="고친 글")
        frame(a, "chat.delete", event_id=doomed)
        frame(a, "chat.react", event_id=keep, emoji="❤️")
        a.collect("chat.ack", 3)
        frame(stayed, "chat.react", event_id=keep, emoji="❤️")
        frame(stayed, "chat.react", event_id=keep, emoji="😂")
        frame(stayed, "chat.unreact", event_id=keep, emoji="😂")
        live_frames = stayed.collect("chat.edited", 1) + stayed.collect("chat.reaction", 4)
        live_frames += stayed.collect("chat.deleted", 1)
        with live.room_socket(room, bob, after_seq=seen) as back:
            replayed = back.collect("chat.edited", 1) + back.collect("chat.reaction", 4)
            replayed += back.collect("chat.deleted", 1)
    assert sorted(replayed, key=lambda f: f["seq"]) == sorted(live_frames, key=lambda f: f["seq"])
    assert [f["seq"] for f in sorted(replayed, key=lambda f: f["seq"])] == list(range(3, 9))

    def state(frames: list[dict]) -> dict:
        """What a page shows after applying frames in seq order."""
        shown = {keep: {"body": "남는 글", "reactions": {}}, doomed: {"body": "지울 글"}}
        for f in sorted(frames, key=lambda f: f["seq"]):
            item = shown[f["event_id"]]
            if f["type"] == "chat.edited":
                item["body"] = f["body"]
            elif f["type"] == "chat.deleted":
                item.update(body="", deleted=True)
            else:
                item["reactions"][f["emoji"]] = f["count"]
        return shown

    assert state(replayed) == state(live_frames)
    assert state(replayed)[keep] == {"body": "고친 글", "reactions": {"❤️": 2, "😂": 0}}
    history = {m["event_id"]: m for m in history_of(api, room, bob)}
    assert history[keep]["body"] == "고친 글" and history[keep]["edited_at"]
    assert history[keep]["reactions"] == [{"emoji": "❤️", "count": 2, "me": False}]
    assert history[doomed]["deleted"] and history[doomed]["body"] == ""
