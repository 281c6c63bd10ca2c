"""Mentions, replies, caption replies, likes and awards notify their member once, live on
/ws/me/ and in the API, through notifications.events (real broker, relay, Redis, database)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from chat.services import room_join
from comments import services as hakwon
from notifications import relay as notifications_relay
from notifications.models import Notification
from notifications.services import Notice
from zzalu import envelope
from zzalu.kafka import Record

from .conftest import make_comment, make_hakwon, make_room, make_user

pytestmark = pytest.mark.services


def say(sock, body: str, **extra) -> dict:
    cid = uuid.uuid4().hex
    sock.send(type="chat.send", client_msg_id=cid, body=body, **extra)
    while (message := sock.recv_type("chat.message"))["client_msg_id"] != cid:
        pass
    return message


def inbox(api, user) -> dict:
    api.force_authenticate(user)
    response = api.get("/api/notifications/")
    assert response.status_code == 200
    return response.json()


def test_a_mention_and_a_reply_each_notify_once_live_and_in_the_api(live, api):
    room = make_room()
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    stranger = make_user(nickname="남")
    for member in (alice, bob):
        room_join(room_id=room.pk, user=member)
    with (
        live.me_socket(bob) as bobs,
        live.me_socket(alice) as alices,
        live.me_socket(stranger) as strangers,
        live.room_socket(room, alice) as a,
        live.room_socket(room, bob) as b,
    ):
        assert bobs.recv_type("notification.unread")["unread"] == 0
        mention = say(a, "@밥 점심 먹었어요? @남 @앨리스")
        assert mention["mentions"] == [
            {"id": bob.pk, "username": bob.username, "nickname": "밥"},
            {"id": alice.pk, "username": alice.username, "nickname": "앨리스"},
        ]
        created = bobs.recv_type("notification.created")
        assert created["unread"] == 1
        assert created["notification"]["kind"] == "mention"
        assert created["notification"]["actor"] == {"id": alice.pk, "nickname": "앨리스"}
        assert created["notification"]["url"] == f"/rooms/{room.pk}/#msg-{mention['seq']}"

        reply = say(b, f"네! @{alice.username}", reply_to=mention["event_id"])  # reply + mention
        got = alices.recv_type("notification.created")["notification"]
        assert got["kind"] == "reply" and got["text"].startswith("네!")
        say(b, "혼잣말 @밥")  # mentioning yourself notifies nobody
        say(a, "답장", reply_to=reply["event_id"])
        assert bobs.recv_type("notification.created")["notification"]["kind"] == "reply"
        assert alices.quiet_for(2, "notification.created") == []
        assert bobs.quiet_for(0, "notification.created") == []
        assert strangers.quiet_for(0, "notification.created") == []  # not a member

    assert [n["kind"] for n in inbox(api, bob)["results"]] == ["reply", "mention"]
    assert inbox(api, bob)["unread"] == 2
    assert [n["kind"] for n in inbox(api, alice)["results"]] == ["reply"]
    assert inbox(api, stranger)["results"] == []
    assert Notification.objects.count() == 3


def test_marking_read_reaches_the_members_other_pages(live, api):
    room, alice, bob = make_room(), make_user(), make_user(nickname="보비")
    room_join(room_id=room.pk, user=bob)
    with live.me_socket(bob) as other_tab, live.room_socket(room, alice) as a:
        say(a, "@보비 하나")
        say(a, "@보비 둘")
        other_tab.collect("notification.created", 2)
        first = inbox(api, bob)["results"][-1]
        assert api.post(
            "/api/notifications/read/", {"ids": [first["id"]]}, format="json"
        ).json() == {"unread": 1}
        assert other_tab.recv_type("notification.read") == {
            "type": "notification.read", "ids": [first["id"]], "unread": 1,
        }  # fmt: skip
        assert api.post("/api/notifications/read/", {"all": True}, format="json").json() == {
            "unread": 0
        }
        assert other_tab.recv_type("notification.read")["unread"] == 0
    for bad in ({}, {"ids": []}, {"ids": ["x"]}, {"all": False}, {"ids": [1], "all": True}):
        assert api.post("/api/notifications/read/", bad, format="json").status_code == 400, bad
    api.force_authenticate(None)
    assert api.get("/api/notifications/").status_code == 401


def test_anonymous_sockets_cannot_open_the_personal_socket(live):
    with live.me_socket() as anonymous:
        assert anonymous.close_code() == 4401


def test_caption_replies_likes_and_awards_notify_the_author(live, api):
    today = make_hakwon()
    author, fan, other = make_user(), make_user(nickname="팬"), make_user(nickname="또")
    caption = make_comment(hakwon=today, author=author, content="웃긴 캡션")
    with live.me_socket(author) as mine:
        mine.recv_type("notification.unread")
        hakwon.reply_create(parent=caption, author=fan, content="ㅋㅋㅋ")
        got = mine.recv_type("notification.created")["notification"]
        assert (got["kind"], got["text"], got["actor"]["nickname"]) == (
            "comment_reply", "ㅋㅋㅋ", "팬",
        )  # fmt: skip
        hakwon.comment_like(comment=caption, user=fan)
        hakwon.comment_like(comment=caption, user=other)
        # One row for the caption's likes; two likes in one relay batch are announced once.
        likes = [mine.recv_type("notification.created")["notification"]]
        while likes[-1]["count"] < 2:
            likes.append(mine.recv_type("notification.created")["notification"])
        assert [n["count"] for n in likes] in ([1, 2], [2])
        assert {n["id"] for n in likes} == {likes[0]["id"]}
        hakwon.hakwon_close(hakwon=today)
        award = mine.recv_type("notification.created")["notification"]
        assert (award["kind"], award["text"]) == ("award", "1등")
    kinds = [n["kind"] for n in inbox(api, author)["results"]]
    assert kinds == ["award", "comment_likes", "comment_reply"]
    assert inbox(api, fan)["results"] == []


def test_unread_counts_move_with_messages_and_read_markers(live, api):
    room, quiet, alice, bob = make_room(), make_room(), make_user(), make_user()
    for member in (alice, bob):
        room_join(room_id=room.pk, user=member)

    def unread() -> dict[int, int | None]:
        api.force_authenticate(bob)
        rooms = api.get("/api/rooms/").json()["results"]
        return {r["id"]: r["unread"] for r in rooms}

    assert unread() == {room.pk: 0, quiet.pk: None}  # a room bob never joined has no count
    with live.room_socket(room, alice) as a:
        for n in range(3):
            say(a, f"메시지 {n}")
        last = say(a, "마지막")
    assert unread()[room.pk] == 4
    api.force_authenticate(bob)
    mine = api.get("/api/rooms/?mine=1").json()["results"]
    assert [r["id"] for r in mine] == [room.pk]
    response = api.post(f"/api/rooms/{room.pk}/read/", {"seq": 2}, format="json")
    assert response.json() == {"room_id": room.pk, "last_read_seq": 2}
    assert unread()[room.pk] == 2
    assert (
        api.post(f"/api/rooms/{room.pk}/read/", {"seq": 1}, format="json").json()["last_read_seq"]
        == 2
    )  # never back
    assert (
        api.post(f"/api/rooms/{room.pk}/read/", {"seq": 10**6}, format="json").json()[
            "last_read_seq"
        ]
        == last["seq"]
    )  # never past the newest
    assert unread()[room.pk] == 0
    for bad in ({}, {"seq": -1}, {"seq": "x"}, {"seq": 2**64}):
        assert api.post(f"/api/rooms/{room.pk}/read/", bad, format="json").status_code == 400
    assert api.post("/api/rooms/999999/read/", {"seq": 1}, format="json").status_code == 404
    api.force_authenticate(None)
    assert api.post(f"/api/rooms/{room.pk}/read/", {"seq": 1}, format="json").status_code == 401
    assert api.get("/api/rooms/?mine=1").status_code in (401, 403)

    with live.room_socket(room, bob) as other_socket:  # chat.read from another of bob's sockets
        with live.room_socket(room, alice) as a:
            newest = say(a, "또")
        other_socket.send(type="chat.read", seq=newest["seq"])
        deadline = time.monotonic() + 10
        while unread()[room.pk] != 0:
            assert time.monotonic() < deadline, "chat.read never reached the marker"
            time.sleep(0.3)


def test_the_presence_api_lists_the_members_online(live, api):
    room, alice, bob = make_room(), make_user(nickname="가"), make_user(nickname="나")
    with live.room_socket(room, alice), live.room_socket(room, bob), live.room_socket(room):
        deadline = time.monotonic() + 10
        while True:
            body = api.get(f"/api/rooms/{room.pk}/presence/").json()
            if len(body["members"]) == 2 and body["anonymous"] == 1:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
    assert [m["nickname"] for m in body["members"]] == ["가", "나"]
    assert set(body["members"][0]) == {"id", "nickname", "profile_path"}
    assert api.get("/api/rooms/999999/presence/").status_code == 404


@pytest.mark.django_db
def test_likes_on_one_caption_in_one_batch_are_announced_once_with_the_newer_count():
    author, fans = make_user(), [make_user(), make_user()]
    notices = [
        Notice(
            recipient_id=author.pk,
            kind="comment_likes",
            source="comment:7",
            actor=fan.public_profile,
            text="캡션",
            url="/hakwon/",
            count=count,
        )
        for count, fan in enumerate(fans, start=1)
    ]
    records = [
        Record("notifications.events", 0, n.count, b"1", envelope.encode(n.record()))
        for n in notices
    ]
    announced = []
    assert notifications_relay.handle_batch(records, announce=announced.extend) == 1
    [(_, message)] = announced
    assert json.loads(message["frame"])["notification"]["count"] == 2
    stored = Notification.objects.get(recipient=author)
    assert (stored.count, stored.actor_id) == (2, fans[1].pk)
