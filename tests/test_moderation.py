"""Room moderation on the real stack: owners and moderators mute, kick, ban and set slow mode
through the room's log; reports; the rules of who may act on whom."""

from __future__ import annotations

import time
import uuid

import pytest

from chat.models import MessageReport, ModerationAction, RoomMember
from chat.services import room_create

from .conftest import make_user

pytestmark = pytest.mark.services


def moderate(sock, **fields) -> dict:
    """Send room.moderate and return its answer (chat.ack or error)."""
    cid = uuid.uuid4().hex
    sock.send(type="room.moderate", client_msg_id=cid, **fields)
    return sock.answer(cid)


def send(sock, body: str) -> dict:
    cid = uuid.uuid4().hex
    sock.send(type="chat.send", client_msg_id=cid, body=body)
    return sock.answer(cid)


@pytest.fixture
def room_of():
    owner = make_user(nickname="방장")
    return owner, room_create(owner=owner, name="모더레이션 방")


def test_owner_appoints_a_moderator_who_mutes_a_member_until_unmuted(live, room_of):
    owner, room = room_of
    mod, member = make_user(nickname="모더"), make_user(nickname="회원")
    with (
        live.room_socket(room, owner) as o,
        live.room_socket(room, mod) as m,
        live.room_socket(room, member) as u,
    ):
        assert moderate(m, action="mute", user_id=member.pk, duration=60)["code"] == "forbidden"
        assert moderate(o, action="appoint", user_id=mod.pk)["type"] == "chat.ack"
        role = u.recv_type("room.member_role")
        assert role["user"] == {"id": mod.pk, "nickname": "모더"} and role["role"] == "moderator"
        assert role["by"] == {"id": owner.pk, "nickname": "방장", "role": "owner"}
        assert moderate(m, action="mute", user_id=member.pk, duration=600)["type"] == "chat.ack"
        muted = u.recv_type("room.member_muted")
        assert muted["user"]["id"] == member.pk and muted["until"].endswith("Z")
        assert muted["by"]["role"] == "moderator"
        error = send(u, "말할래요")
        assert error["code"] == "muted" and error["until"] == muted["until"]
        u.send(type="chat.react", client_msg_id="r1", event_id=str(uuid.uuid4()), emoji="👍")
        assert u.recv_type("error")["code"] == "muted"
        # A moderator cannot act on the owner or another moderator; nobody on staff.
        assert moderate(m, action="kick", user_id=owner.pk)["code"] == "forbidden"
        assert moderate(m, action="dismiss", user_id=mod.pk)["code"] in (
            "forbidden",
            "invalid_payload",
        )
        staff = make_user(staff=True)
        assert moderate(o, action="ban", user_id=staff.pk)["code"] == "forbidden"
        assert moderate(m, action="unmute", user_id=member.pk)["type"] == "chat.ack"
        assert u.recv_type("room.member_muted")["until"] is None
        assert send(u, "이제 돼요")["type"] == "chat.ack"
    # A muted member who reconnects is still muted.
    with live.room_socket(room, mod) as m, live.room_socket(room, member) as u:
        assert moderate(m, action="mute", user_id=member.pk, duration=600)["type"] == "chat.ack"
        u.recv_type("room.member_muted")
    with live.room_socket(room, member) as again:
        assert send(again, "재접속")["code"] == "muted"
    kinds = list(ModerationAction.objects.filter(room=room).values_list("kind", flat=True))
    assert kinds == ["moderator_added", "muted", "unmuted", "muted"]


def test_kick_closes_the_members_sockets_on_every_web_server_and_they_may_come_back(live, room_of):
    owner, room = room_of
    member = make_user()
    second = live.start_web("web-2")
    with (
        live.room_socket(room, owner) as o,
        live.room_socket(room, member) as here,
        socket_on(live, second, room, member) as there,
    ):
        assert moderate(o, action="kick", user_id=member.pk)["type"] == "chat.ack"
        assert here.recv_type("room.member_kicked")["user"]["id"] == member.pk
        assert here.close_code() == 4403
        assert there.close_code() == 4403
    with live.room_socket(room, member) as back:  # a kick is not a ban
        assert send(back, "다시 왔어요")["type"] == "chat.ack"
        assert back.quiet_for(1, "closing") == []
    # A ban through one web server closes the member's socket on the other, and keeps it shut.
    with socket_on(live, second, room, owner) as o, live.room_socket(room, member) as here:
        assert moderate(o, action="ban", user_id=member.pk)["type"] == "chat.ack"
        assert here.close_code() == 4403 and here.close_reason.startswith("banned")
    with socket_on(live, second, room, member) as refused:
        assert refused.close_code() == 4403


def socket_on(live, web, room, user):
    from .ws import Socket

    return Socket(live.socket_url(f"/ws/rooms/{room.pk}/", user, web=web))


def test_ban_closes_and_refuses_the_socket_until_unbanned(live, room_of, api):
    owner, room = room_of
    member = make_user()
    with live.room_socket(room, owner) as o, live.room_socket(room, member) as u:
        assert moderate(o, action="ban", user_id=member.pk, reason="도배")["type"] == "chat.ack"
        banned = u.recv_type("room.member_banned")
        assert banned["banned"] is True and banned["reason"] == "도배"
        assert u.close_code() == 4403 and "도배" in u.close_reason
    with live.room_socket(room, member) as refused:
        assert refused.close_code() == 4403 and "banned" in refused.close_reason
    api.force_authenticate(owner)
    roster = api.get(f"/api/rooms/{room.pk}/moderation/").json()
    assert [b["id"] for b in roster["banned"]] == [member.pk] and roster["my_role"] == "owner"
    response = api.post(
        f"/api/rooms/{room.pk}/moderation/",
        {"action": "unban", "user_id": member.pk},
        format="json",
    )
    assert response.status_code == 202
    deadline = time.monotonic() + 10
    while RoomMember.objects.get(room=room, user=member).banned_at is not None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with live.room_socket(room, member) as welcome:
        assert send(welcome, "돌아왔어요")["type"] == "chat.ack"


def test_slow_mode_spaces_members_sends_but_not_the_owners(live, room_of):
    owner, room = room_of
    member = make_user()
    with live.room_socket(room, owner) as o, live.room_socket(room, member) as u:
        assert moderate(o, action="slow_mode", seconds=30)["type"] == "chat.ack"
        assert u.recv_type("room.slow_mode")["seconds"] == 30
        assert send(u, "하나")["type"] == "chat.ack"
        early = send(u, "둘")
        assert early["code"] == "slow_mode" and 0 < early["retry_after"] <= 30
        assert send(o, "방장은 예외")["type"] == "chat.ack"
        assert send(o, "방장은 예외 2")["type"] == "chat.ack"
        assert moderate(o, action="slow_mode", seconds=601)["code"] == "invalid_payload"
        assert moderate(o, action="slow_mode", seconds=0)["type"] == "chat.ack"
        u.recv_type("room.slow_mode")
        time.sleep(0.5)
        assert send(u, "셋")["type"] == "chat.ack"


def test_owner_and_moderators_delete_messages_and_catch_up_replays_actions(live, room_of):
    owner, room = room_of
    member, watcher = make_user(), make_user()
    with live.room_socket(room, owner) as o, live.room_socket(room, member) as u:
        message = send(u, "지워질 글")
        o.recv_type("chat.message")
        o.send(type="chat.delete", client_msg_id="d1", event_id=message["event_id"])
        assert u.recv_type("chat.deleted")["deleted_by"] == "owner"
        assert moderate(o, action="mute", user_id=member.pk, duration=60)["type"] == "chat.ack"
        u.recv_type("room.member_muted")
    with live.room_socket(room, watcher, after_seq=0) as late:
        replayed = [late.recv()["type"] for _ in range(3)]
    assert replayed == ["chat.message", "chat.deleted", "room.member_muted"]


def test_reports_once_per_member_and_message(live, room_of, api):
    _, room = room_of
    member, reporter = make_user(), make_user()
    with live.room_socket(room, member) as u, live.room_socket(room, reporter) as r:
        message = send(u, "신고당할 글")
        r.recv_type("chat.message")  # stored: reports name stored messages
        r.send(
            type="chat.report", client_msg_id="rep1", event_id=message["event_id"], reason="욕설"
        )
        assert r.recv_type("chat.ack")["client_msg_id"] == "rep1"
        r.send(type="chat.report", client_msg_id="rep2", event_id=message["event_id"], reason="또")
        assert r.recv_type("error")["code"] == "already_reported"
    api.force_authenticate(member)
    url = f"/api/rooms/{room.pk}/messages/{message['event_id']}/report/"
    assert api.post(url, {"reason": "맞신고"}, format="json").status_code == 201
    assert api.post(url, {"reason": "맞신고"}, format="json").status_code == 409
    assert api.post(url, {"reason": ""}, format="json").status_code == 400
    missing = f"/api/rooms/{room.pk}/messages/{uuid.uuid4()}/report/"
    assert api.post(missing, {"reason": "x"}, format="json").status_code == 404
    assert MessageReport.objects.filter(message__event_id=message["event_id"]).count() == 2
