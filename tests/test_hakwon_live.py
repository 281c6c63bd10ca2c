"""Title-hakwon live: a write -> outbox -> Kafka -> relay -> the watchers of that hakwon."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from comments.models import Comment
from outbox.models import OutboxEvent

from .conftest import make_comment, make_hakwon, make_user
from .services import service


def http(live, method: str, path: str, user=None, body: dict | None = None) -> tuple[int, dict]:
    """A request to the running web server, as a member (JWT) or anonymously."""
    request = urllib.request.Request(live.web.http + path, method=method)
    if user is not None:
        request.add_header("Authorization", f"Bearer {AccessToken.for_user(user)}")
    data = None
    if body is not None:
        request.add_header("Content-Type", "application/json")
        data = json.dumps(body).encode()
    try:
        with urllib.request.urlopen(request, data=data, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else {}


def test_a_rest_comment_reaches_watchers_of_that_hakwon_only(live):
    hakwon, other = make_hakwon(), make_hakwon()
    author = make_user(nickname="작성자")
    with live.hakwon_socket(hakwon.pk) as watcher, live.hakwon_socket(other.pk) as elsewhere:
        status, created = http(
            live, "POST", f"/api/hakwons/{hakwon.pk}/comments/", author, {"content": "출근길 표정"}
        )
        assert status == 201
        event = watcher.recv_type("comment.created", timeout=10)
        assert elsewhere.quiet_for(2, "comment.created") == []
    assert event["hakwon_id"] == hakwon.pk
    assert event["comment"] == {k: v for k, v in created.items() if k != "liked"}
    assert event["comment"]["author"]["nickname"] == "작성자"


def test_twenty_members_like_at_once_and_everyone_sees_exactly_twenty(live):
    hakwon = make_hakwon()
    comment = make_comment(hakwon=hakwon)
    members = [make_user() for _ in range(20)]
    with live.hakwon_socket(hakwon.pk) as w1, live.hakwon_socket(hakwon.pk) as w2:
        statuses = []
        threads = [
            threading.Thread(
                target=lambda m=m: statuses.append(
                    http(live, "POST", f"/api/comments/{comment.pk}/like/", m)[0]
                )
            )
            for m in members
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [201] * 20
        last_seen = []
        for watcher in (w1, w2):
            counts = [watcher.recv_type("comment.liked", timeout=15)["like_count"]]
            while more := watcher.quiet_for(2, "comment.liked"):  # until the events stop
                counts += [f["like_count"] for f in more]
            last_seen.append(counts[-1])
    comment.refresh_from_db()
    assert comment.like_count == 20
    _, listed = http(live, "GET", f"/api/hakwons/{hakwon.pk}/comments/")
    assert listed["results"][0]["like_count"] == 20
    assert last_seen == [20, 20]

    assert http(live, "POST", f"/api/comments/{comment.pk}/like/", members[0])[0] == 409
    assert http(live, "DELETE", f"/api/comments/{comment.pk}/like/", members[0])[0] == 204
    assert http(live, "DELETE", f"/api/comments/{comment.pk}/like/", members[0])[0] == 404


@pytest.mark.outage
def test_a_comment_made_while_the_broker_is_down_is_delivered_once_when_it_returns(live):
    hakwon = make_hakwon()
    author = make_user()
    with live.hakwon_socket(hakwon.pk) as watcher:
        service("stop", "kafka")
        try:
            status, created = http(
                live, "POST", f"/api/hakwons/{hakwon.pk}/comments/", author, {"content": "정전"}
            )
            assert status == 201
            assert OutboxEvent.objects.get(payload__comment__id=created["id"]).published_at is None
        finally:
            service("start", "kafka")
        event = watcher.recv_type("comment.created", timeout=90)
        assert event["comment"]["id"] == created["id"]
        assert watcher.quiet_for(3, "comment.created") == []
    assert OutboxEvent.objects.get(payload__comment__id=created["id"]).published_at is not None


def test_members_write_over_the_socket_with_the_same_rules(live):
    hakwon = make_hakwon()
    closed = make_hakwon(state="DONE")
    alice, bob = make_user(), make_user()
    with live.hakwon_socket(hakwon.pk, alice) as a, live.hakwon_socket(hakwon.pk, bob) as b:
        a.send(type="comment.create", content="소켓으로 쓴 캡션", client_msg_id="c1")
        ack = a.recv_type("comment.ack")
        assert ack["action"] == "create" and ack["client_msg_id"] == "c1"
        created = b.recv_type("comment.created")
        assert created["comment"]["id"] == ack["comment_id"]

        b.send(type="comment.like", comment_id=ack["comment_id"])
        assert b.recv_type("comment.ack")["like_count"] == 1
        assert a.recv_type("comment.liked")["like_count"] == 1
        b.send(type="comment.like", comment_id=ack["comment_id"])
        assert b.recv_type("error")["code"] == "already_liked"
        b.send(type="comment.unlike", comment_id=ack["comment_id"])
        assert b.recv_type("comment.ack")["like_count"] == 0
        b.send(type="comment.unlike", comment_id=ack["comment_id"])
        assert b.recv_type("error")["code"] == "not_liked"

        a.send(type="comment.create", content="", client_msg_id="c2")
        assert a.recv_type("error") == {
            "type": "error",
            "code": "invalid_payload",
            "detail": "Write something.",
            "client_msg_id": "c2",
            "field": "content",
        }
        a.send(type="comment.like", comment_id="nope")
        assert a.recv_type("error")["code"] == "invalid_payload"
        a.send(type="comment.like", comment_id=99999999)
        assert a.recv_type("error")["code"] == "not_found"
        a.send(type="comment.delete", comment_id=1)
        assert a.recv_type("error")["code"] == "unknown_type"
    assert Comment.objects.filter(hakwon=hakwon).count() == 1

    with live.hakwon_socket(closed.pk, alice) as late:
        late.send(type="comment.create", content="늦었다", client_msg_id="late")
        assert late.recv_type("error")["code"] == "hakwon_closed"
    with live.hakwon_socket(hakwon.pk) as anonymous:
        anonymous.send(type="comment.create", content="익명", client_msg_id="anon")
        assert anonymous.recv_type("error")["code"] == "auth_required"
    assert live.hakwon_socket(424242).close_code() == 4404


def test_a_nul_over_the_socket_is_refused_by_name_and_the_socket_goes_on(live):
    hakwon = make_hakwon()
    alice = make_user()
    with live.hakwon_socket(hakwon.pk, alice) as a:
        for bad in ("a\u0000b", "a\u009fb"):
            a.send(type="comment.create", content=bad, client_msg_id="bad")
            error = a.recv_type("error")
            assert error["code"] == "invalid_payload" and error["client_msg_id"] == "bad"
            assert error["detail"].startswith("content: ")
        a.send(type="comment.create", content="  e\u0301  ", client_msg_id="\u0007")
        error = a.recv_type("error")
        assert error["code"] == "invalid_payload" and "client_msg_id" not in error
        a.send(type="comment.create", content="  e\u0301  ", client_msg_id="good")
        ack = a.recv_type("comment.ack")
        assert ack["client_msg_id"] == "good"
        assert a.recv_type("comment.created")["comment"]["content"] == "\u00e9"
        assert [f["client_msg_id"] for f in a.received if f["type"] == "comment.ack"] == ["good"]
    assert list(Comment.objects.filter(hakwon=hakwon).values_list("content", flat=True)) == [
        "\u00e9"
    ]


def test_moderation_delete_in_admin_reaches_watchers(live):
    hakwon = make_hakwon()
    comment = make_comment(hakwon=hakwon, content="신고된 캡션")
    moderator = make_user(staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(moderator)
    with live.hakwon_socket(hakwon.pk) as watcher:
        response = browser.post(
            "/admin/comments/comment/",
            {"action": "moderate_delete", "_selected_action": [comment.pk]},
        )
        assert response.status_code == 302
        deleted = watcher.recv_type("comment.deleted", timeout=10)
    assert deleted["comment_id"] == comment.pk and deleted["placeholder"] is False
    assert not Comment.objects.filter(pk=comment.pk).exists()


def test_liking_ones_own_comment_over_the_socket_is_an_own_comment_error(live):
    hakwon = make_hakwon()
    author = make_user()
    comment = make_comment(hakwon=hakwon, author=author)
    with live.hakwon_socket(hakwon.pk, author) as socket:
        socket.send(type="comment.like", comment_id=comment.pk, client_msg_id="own")
        error = socket.recv_type("error")
        assert error["code"] == "own_comment" and error["client_msg_id"] == "own"
        socket.send(type="comment.create", content="소켓은 그대로", client_msg_id="next")
        assert socket.recv_type("comment.ack")["client_msg_id"] == "next"
    comment.refresh_from_db()
    assert comment.like_count == 0
