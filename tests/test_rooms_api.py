import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from chat.models import ChatRoom, RoomLike

from .conftest import make_room, make_user

pytestmark = pytest.mark.django_db


def test_create_room_with_tags(member_api):
    response = member_api.post(
        "/api/rooms/",
        {
            "name": "고양이방",
            "description": "냥",
            "image_url": "https://x.test/a.gif",
            "tags": ["고양이", "#동물"],
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["tags"] == ["고양이", "동물"]
    assert response.data["owner"] == member_api.user.nickname
    assert response.data["online"] == 0
    assert ChatRoom.objects.get().owner == member_api.user


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "ok", "description": "x" * 501}, "description"),
        ({"name": "ok", "image_url": "javascript:alert(1)"}, "image_url"),
        ({"name": "ok", "image_url": "ftp://x.test/a.gif"}, "image_url"),
        ({"name": "ok", "tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"name": "ok", "tags": ["   "]}, "tags"),
        ({"name": "ok", "tags": "not-a-list"}, "tags"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "a\x85b"}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"name": "ok", "description": "a\x00b"}, "description"),
        ({"name": "ok", "description": "a\x1bb"}, "description"),
        ({"name": "ok", "tags": ["a\x00b"]}, "tags"),
        ({"name": "ok", "tags": ["a\x7f"]}, "tags"),
        ({"name": "ok", "image_url": "https://x.test/\x00.gif"}, "image_url"),
    ],
)
def test_invalid_room_is_400_and_nothing_is_written(member_api, body, field):
    response = member_api.post("/api/rooms/", body, format="json")
    assert response.status_code == 400
    assert field in response.data
    assert not ChatRoom.objects.exists()


def test_anonymous_cannot_create_rooms(api):
    assert api.post("/api/rooms/", {"name": "x"}, format="json").status_code == 401


def test_search_by_name_or_tag_and_order_by_likes(api):
    cats = make_room(name="고양이 짤방", tags=["동물"])
    dev = make_room(name="개발자 짤방", tags=["개발"])
    dogs = make_room(name="멍멍", tags=["동물"])
    ChatRoom.objects.filter(pk=dogs.pk).update(like_count=5)
    ChatRoom.objects.filter(pk=cats.pk).update(like_count=2)

    by_tag = api.get("/api/rooms/", {"search": "동물", "ordering": "likes"}).data
    assert [r["id"] for r in by_tag["results"]] == [dogs.pk, cats.pk]
    by_name = api.get("/api/rooms/", {"search": "개발자"}).data
    assert [r["id"] for r in by_name["results"]] == [dev.pk]
    assert by_tag["count"] == 2


def test_search_terms_are_at_most_100_characters(api, client):
    room = make_room(name="가" * 50)
    found = api.get("/api/rooms/", {"search": "가" * 50 + " " * 50})  # trimmed first
    assert [r["id"] for r in found.data["results"]] == [room.pk]
    assert api.get("/api/rooms/", {"search": "가" * 100}).status_code == 200
    too_long = api.get("/api/rooms/", {"search": "가" * 101})
    assert too_long.status_code == 400
    assert too_long.data["search"] == ["search: At most 100 characters (this has 101)."]
    assert api.get("/api/rooms/", {"search": "a\x00b"}).status_code == 400
    # The page's search box says so too.
    page = client.get("/", {"q": "가" * 101})
    assert page.status_code == 400
    assert "100자까지" in page.content.decode()
    assert client.get("/", {"q": "가" * 100}).status_code == 200


def test_anonymous_reads_are_throttled_per_address(member_api, monkeypatch):
    from zzalu.api import AnonReadThrottle

    monkeypatch.setattr(AnonReadThrottle, "THROTTLE_RATES", {"anon_reads": "3/min"})
    stranger = APIClient(REMOTE_ADDR="198.51.100.7")
    statuses = [stranger.get("/api/rooms/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert stranger.get("/api/hakwons/").status_code == 429  # every endpoint, one budget
    assert APIClient(REMOTE_ADDR="198.51.100.8").get("/api/rooms/").status_code == 200
    # Members are not counted; writes have their own throttle.
    assert {member_api.get("/api/rooms/").status_code for _ in range(5)} == {200}


def test_room_list_is_paginated(api):
    for _ in range(25):
        make_room()
    first = api.get("/api/rooms/").data
    assert first["count"] == 25 and len(first["results"]) == 20 and first["next"]
    assert len(api.get("/api/rooms/", {"page": 2}).data["results"]) == 5
    assert api.get("/api/rooms/", {"page": 9}).status_code == 404


def test_room_detail_and_unknown_room(api):
    room = make_room(name="상세")
    detail = api.get(f"/api/rooms/{room.pk}/")
    assert detail.status_code == 200
    assert detail.data["name"] == "상세" and detail.data["online"] == 0
    assert api.get("/api/rooms/999999/").status_code == 404


@pytest.mark.parametrize("room_id", ["9" * 19, "604837754518175774625098604289720320"])
def test_ids_too_long_for_any_row_are_not_found(member_api, client, room_id):
    """Past 2**63 - 1 an id overflowed in the database (a 500 found by the API fuzz on the
    report endpoint); any id longer than 18 digits is not a path of ours."""
    event_id = "946dd889-aa84-26d2-953d-50bd7b32fabb"
    for path in (
        f"/api/rooms/{room_id}/",
        f"/api/rooms/{room_id}/messages/",
        f"/api/rooms/{room_id}/gifs/",
        f"/api/rooms/{room_id}/presence/",
        f"/api/comments/{room_id}/replies/",
        f"/rooms/{room_id}/",
    ):
        assert client.get(path).status_code == 404, path
    report = f"/api/rooms/{room_id}/messages/{event_id}/report/"
    assert member_api.post(report, {"reason": "x"}, format="json").status_code == 404
    assert member_api.get(f"/api/rooms/{'9' * 18}/").status_code == 404  # the longest id: a row


def test_like_once_then_conflict_then_unlike(member_api):
    room = make_room()
    url = f"/api/rooms/{room.pk}/like/"
    assert member_api.post(url).status_code == 201
    again = member_api.post(url)
    assert again.status_code == 409 and again.data["code"] == "already_liked"
    assert member_api.delete(url).status_code == 204
    assert member_api.delete(url).status_code == 404
    room.refresh_from_db()
    assert room.like_count == 0
    assert member_api.post("/api/rooms/999999/like/").status_code == 404


def test_anonymous_cannot_like(api):
    room = make_room()
    assert api.post(f"/api/rooms/{room.pk}/like/").status_code == 401


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_likes_are_counted_exactly():
    room = make_room()
    members = [make_user() for _ in range(12)]
    results = []

    def like(user):
        client = APIClient()
        client.force_authenticate(user)
        results.append(client.post(f"/api/rooms/{room.pk}/like/").status_code)
        connection.close()

    threads = [threading.Thread(target=like, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    room.refresh_from_db()
    assert results == [201] * 12
    assert room.like_count == 12 == RoomLike.objects.filter(room=room).count()
