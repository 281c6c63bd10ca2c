"""Title-hakwon REST API: rules, pagination, likes, awards (events are tested live)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission

from comments.models import Comment, CommentLike
from comments.selectors import hakwon_today
from outbox.models import OutboxEvent

from .conftest import make_comment, make_hakwon, make_user

pytestmark = pytest.mark.django_db


def test_hakwon_list_filters_by_state_and_today_and_detail_count_comments(api):
    old = make_hakwon(state="DONE", open_date=hakwon_today() - timedelta(days=1))
    today = make_hakwon(open_date=hakwon_today())
    parent = make_comment(hakwon=today)
    make_comment(hakwon=today, parent=parent)

    listed = api.get("/api/hakwons/", {"state": "DONE"}).data["results"]
    assert [h["id"] for h in listed] == [old.pk]
    assert api.get("/api/hakwons/", {"state": "NOPE"}).status_code == 400
    assert api.get("/api/hakwons/today/").data["id"] == today.pk
    detail = api.get(f"/api/hakwons/{today.pk}/").data
    assert detail == {
        "id": today.pk,
        "image_url": today.image_url,
        "image": None,
        "open_date": today.open_date.isoformat(),
        "state": "PROCEED",
        "comment_count": 2,
    }
    assert api.get("/api/hakwons/424242/").status_code == 404
    ahead = make_hakwon(state="NOT_OPEN", open_date=hakwon_today() + timedelta(days=1))
    assert api.get(f"/api/hakwons/{ahead.pk}/").status_code == 404  # scheduled: not open yet
    assert ahead.pk not in [h["id"] for h in api.get("/api/hakwons/").data["results"]]


def test_today_is_404_before_it_is_set_up(api):
    assert api.get("/api/hakwons/today/").status_code == 404


def test_comment_create_writes_the_comment_and_its_event_in_one_go(member_api):
    hakwon = make_hakwon()
    response = member_api.post(
        f"/api/hakwons/{hakwon.pk}/comments/", {"content": "  월요일 아침의 나  "}, format="json"
    )
    assert response.status_code == 201, response.data
    assert response.data["content"] == "월요일 아침의 나"
    assert response.data["author"]["nickname"] == member_api.user.nickname
    assert response.data["liked"] is False
    event = OutboxEvent.objects.get()
    assert event.key == str(hakwon.pk)
    assert event.payload["type"] == "comment.created"
    assert event.payload["comment"]["id"] == response.data["id"]


@pytest.mark.parametrize("content", ["", "   ", "x" * 501, "a\x00b", "a\x1bb", "a\x85b"])
def test_invalid_content_is_400_and_nothing_is_written(member_api, content):
    hakwon = make_hakwon()
    response = member_api.post(
        f"/api/hakwons/{hakwon.pk}/comments/", {"content": content}, format="json"
    )
    assert response.status_code == 400
    assert "content" in response.data
    assert not Comment.objects.exists() and not OutboxEvent.objects.exists()


def test_nul_and_lone_surrogates_are_400_for_comments_replies_and_edits(member_api):
    hakwon = make_hakwon()
    caption = make_comment(hakwon=hakwon, author=member_api.user, content="원래 캡션")
    writes = [
        ("post", f"/api/hakwons/{hakwon.pk}/comments/"),
        ("post", f"/api/comments/{caption.pk}/replies/"),
        ("patch", f"/api/comments/{caption.pk}/"),
    ]
    # A JSON escape is the only way a lone surrogate reaches a Python string.
    for raw in ('{"content": "a\\u0000b"}', '{"content": "a\\ud800b"}'):
        for method, url in writes:
            response = getattr(member_api, method)(url, raw, content_type="application/json")
            assert response.status_code == 400, (method, url, raw)
            assert "content" in response.data
    assert list(Comment.objects.values_list("content", flat=True)) == ["원래 캡션"]
    assert not OutboxEvent.objects.exists()


def test_writes_to_a_closed_hakwon_are_400(member_api):
    hakwon = make_hakwon(state="DONE")
    comment = make_comment(hakwon=hakwon, author=member_api.user)
    base = f"/api/comments/{comment.pk}"
    attempts = [
        member_api.post(
            f"/api/hakwons/{hakwon.pk}/comments/", {"content": "늦었다"}, format="json"
        ),
        member_api.post(f"{base}/replies/", {"content": "늦은 답글"}, format="json"),
        member_api.patch(f"{base}/", {"content": "고침"}, format="json"),
        member_api.delete(f"{base}/"),
        member_api.post(f"{base}/like/"),
        member_api.delete(f"{base}/like/"),
    ]
    assert [r.status_code for r in attempts] == [400] * 6
    assert {r.data["code"] for r in attempts} == {"hakwon_closed"}
    assert not OutboxEvent.objects.exists()


def test_not_yet_open_hakwon_refuses_comments(member_api):
    """A day scheduled ahead does not exist for members until it opens (issue 16)."""
    hakwon = make_hakwon(state="NOT_OPEN")
    response = member_api.post(
        f"/api/hakwons/{hakwon.pk}/comments/", {"content": "x"}, format="json"
    )
    assert response.status_code == 404


def test_only_the_author_or_staff_edit_and_delete(member_api, api):
    hakwon = make_hakwon()
    theirs = make_comment(hakwon=hakwon)
    assert (
        member_api.patch(
            f"/api/comments/{theirs.pk}/", {"content": "내꺼"}, format="json"
        ).status_code
        == 403
    )
    assert member_api.delete(f"/api/comments/{theirs.pk}/").status_code == 403
    assert (
        api.patch(f"/api/comments/{theirs.pk}/", {"content": "x"}, format="json").status_code == 401
    )
    assert api.delete(f"/api/comments/{theirs.pk}/").status_code == 401

    mine = make_comment(hakwon=hakwon, author=member_api.user)
    edited = member_api.patch(f"/api/comments/{mine.pk}/", {"content": "고친 캡션"}, format="json")
    assert edited.status_code == 200
    assert edited.data["content"] == "고친 캡션" and edited.data["is_edited"] is True

    moderator = make_user(staff=True)
    moderator.user_permissions.add(Permission.objects.get(codename="delete_comment"))
    member_api.force_authenticate(moderator)
    assert member_api.delete(f"/api/comments/{theirs.pk}/").status_code == 204
    assert not Comment.objects.filter(pk=theirs.pk).exists()
    assert member_api.delete(f"/api/comments/{theirs.pk}/").status_code == 404


def test_anonymous_writes_are_401(api):
    hakwon = make_hakwon()
    comment = make_comment(hakwon=hakwon)
    assert (
        api.post(f"/api/hakwons/{hakwon.pk}/comments/", {"content": "x"}, format="json").status_code
        == 401
    )
    assert (
        api.post(
            f"/api/comments/{comment.pk}/replies/", {"content": "x"}, format="json"
        ).status_code
        == 401
    )
    assert api.post(f"/api/comments/{comment.pk}/like/").status_code == 401
    assert api.delete(f"/api/comments/{comment.pk}/like/").status_code == 401


def test_replies_count_and_do_not_nest(member_api):
    hakwon = make_hakwon()
    parent = make_comment(hakwon=hakwon)
    url = f"/api/comments/{parent.pk}/replies/"
    first = member_api.post(url, {"content": "ㅋㅋㅋ"}, format="json")
    member_api.post(url, {"content": "ㅎㅎ"}, format="json")
    assert first.status_code == 201 and first.data["parent_id"] == parent.pk
    parent.refresh_from_db()
    assert parent.reply_count == 2
    replies = member_api.get(url).data["results"]
    assert [r["content"] for r in replies] == ["ㅋㅋㅋ", "ㅎㅎ"]
    nested = member_api.post(
        f"/api/comments/{first.data['id']}/replies/", {"content": "x"}, format="json"
    )
    assert nested.status_code == 400 and nested.data["code"] == "nested_reply"


def test_deleting_a_comment_with_replies_keeps_the_thread_readable(member_api):
    hakwon = make_hakwon()
    parent = make_comment(hakwon=hakwon, author=member_api.user, content="원글")
    reply = make_comment(hakwon=hakwon, parent=parent, content="답글")
    Comment.objects.filter(pk=parent.pk).update(reply_count=1)
    assert member_api.delete(f"/api/comments/{parent.pk}/").status_code == 204
    listed = member_api.get(f"/api/hakwons/{hakwon.pk}/comments/").data["results"]
    assert listed[0]["id"] == parent.pk
    assert listed[0]["is_deleted"] is True and listed[0]["content"] == ""
    replies = member_api.get(f"/api/comments/{parent.pk}/replies/").data["results"]
    assert [r["id"] for r in replies] == [reply.pk]


def test_like_201_then_409_unlike_204_then_404_and_liked_flag(member_api):
    hakwon = make_hakwon()
    comment = make_comment(hakwon=hakwon)
    url = f"/api/comments/{comment.pk}/like/"
    liked = member_api.post(url)
    assert liked.status_code == 201 and liked.data == {"comment_id": comment.pk, "like_count": 1}
    assert member_api.post(url).status_code == 409
    listed = member_api.get(f"/api/hakwons/{hakwon.pk}/comments/").data["results"]
    assert listed[0]["liked"] is True and listed[0]["like_count"] == 1
    assert member_api.delete(url).status_code == 204
    assert member_api.delete(url).status_code == 404
    comment.refresh_from_db()
    assert comment.like_count == 0 and not CommentLike.objects.exists()
    assert member_api.post("/api/comments/777777/like/").status_code == 404


def test_comment_orderings_and_cursor_pagination(api):
    hakwon = make_hakwon()
    comments = [make_comment(hakwon=hakwon, content=f"c{i}", likes=i % 4) for i in range(30)]
    url = f"/api/hakwons/{hakwon.pk}/comments/"

    latest = api.get(url).data
    assert [c["content"] for c in latest["results"]] == [f"c{i}" for i in range(29, 9, -1)]
    second = api.get(latest["next"]).data
    assert [c["content"] for c in second["results"]] == [f"c{i}" for i in range(9, -1, -1)]
    assert second["next"] is None

    oldest = api.get(url, {"ordering": "oldest", "page_size": 5}).data["results"]
    assert [c["id"] for c in oldest] == [c.pk for c in comments[:5]]

    popular = api.get(url, {"ordering": "popular", "page_size": 100}).data["results"]
    assert [c["like_count"] for c in popular] == sorted((i % 4 for i in range(30)), reverse=True)
    assert api.get(url, {"ordering": "random"}).status_code == 400


def test_best_comments_are_liked_ones_most_liked_first(api):
    hakwon = make_hakwon()
    a = make_comment(hakwon=hakwon, likes=3)
    make_comment(hakwon=hakwon, likes=0)
    b = make_comment(hakwon=hakwon, likes=5)
    c = make_comment(hakwon=hakwon, likes=3)
    best = api.get(f"/api/hakwons/{hakwon.pk}/comments/best/", {"limit": 10}).data
    assert [x["id"] for x in best] == [b.pk, a.pk, c.pk]
    assert len(api.get(f"/api/hakwons/{hakwon.pk}/comments/best/").data) == 3
    assert api.get(f"/api/hakwons/{hakwon.pk}/comments/best/", {"limit": 0}).status_code == 400


def test_member_awards(api):
    from comments.services import hakwon_close

    hakwon = make_hakwon(open_date=hakwon_today() - timedelta(days=1))
    winner = make_user(username="winner")
    make_comment(hakwon=hakwon, author=winner, content="우승 캡션", likes=9)
    hakwon_close(hakwon=hakwon)
    awards = api.get("/api/users/winner/awards/").data["results"]
    assert len(awards) == 1
    assert awards[0]["rank"] == 1 and awards[0]["content"] == "우승 캡션"
    assert awards[0]["hakwon"]["id"] == hakwon.pk and awards[0]["like_count"] == 9
    assert api.get("/api/users/nobody/awards/").data["results"] == []


def test_a_member_cannot_like_their_own_comment(member_api):
    hakwon = make_hakwon()
    own = make_comment(hakwon=hakwon, author=member_api.user)
    response = member_api.post(f"/api/comments/{own.pk}/like/")
    assert response.status_code == 403 and response.data["code"] == "own_comment"
    own.refresh_from_db()
    assert own.like_count == 0 and not CommentLike.objects.exists()
    assert not OutboxEvent.objects.exists()
    other = make_comment(hakwon=hakwon)
    assert member_api.post(f"/api/comments/{other.pk}/like/").status_code == 201


def test_a_deleted_comments_text_is_blank_everywhere(api, client):
    """A placeholder (a deleted comment with replies) in lists, replies, best, awards, pages."""
    from comments.services import comment_delete, hakwon_close

    hakwon = make_hakwon(open_date=hakwon_today() - timedelta(days=1))
    winner = make_user(username="deleted-winner")
    secret = "지워진 우승 캡션"
    caption = make_comment(hakwon=hakwon, author=winner, content=secret, likes=5)
    reply = make_comment(hakwon=hakwon, parent=caption, content="답글")
    Comment.objects.filter(pk=caption.pk).update(reply_count=1)
    hakwon_close(hakwon=hakwon)  # the caption wins, then a moderator deletes it
    comment_delete(comment=caption, user=make_user(staff=True, is_superuser=True))
    caption.refresh_from_db()
    assert caption.is_deleted and caption.content == ""

    listed = api.get(f"/api/hakwons/{hakwon.pk}/comments/").data["results"]
    assert [(c["id"], c["content"]) for c in listed] == [(caption.pk, "")]
    replies = api.get(f"/api/comments/{caption.pk}/replies/").data["results"]
    assert [c["id"] for c in replies] == [reply.pk]
    awards = api.get(f"/api/users/{winner.username}/awards/").data["results"]
    assert [(a["comment_id"], a["content"]) for a in awards] == [(caption.pk, "")]
    assert api.get(f"/api/hakwons/{hakwon.pk}/comments/best/").data == []
    pages = [f"/members/{winner.username}/", f"/hakwon/{hakwon.pk}/", "/hakwon/"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert secret not in response.content.decode(), path
    assert secret not in str(api.get(f"/api/hakwons/{hakwon.pk}/comments/best/?limit=50").data)


def test_text_of_comments_deleted_before_the_migration_is_blanked():
    from importlib import import_module

    from django.apps import apps

    hakwon = make_hakwon()
    old = make_comment(hakwon=hakwon, content="예전에 지운 댓글")
    kept = make_comment(hakwon=hakwon, content="남은 댓글")
    Comment.objects.filter(pk=old.pk).update(is_deleted=True)
    migration = import_module("comments.migrations.0002_blank_deleted_comment_text")
    migration.blank_deleted_text(apps, None)
    assert Comment.objects.get(pk=old.pk).content == ""
    assert Comment.objects.get(pk=kept.pk).content == "남은 댓글"
