"""A room's like count and online count, live: ``room.likes`` reaches the room's sockets and the
rooms lists showing the room once a like or unlike is committed (API and page form alike), and
the rooms list's socket (``/ws/rooms/``) follows the counts of the rooms it watches. Against the
real stack (Uvicorn, Kafka, relay, Redis)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chat import services
from chat.models import ChatRoom
from tests.ws import Socket

from .conftest import make_room, make_user

pytestmark = pytest.mark.services
# The likes here are made in this process (its first group_send opens the channel layer's
# connection); the browser test holds the page to 2 s.
SOON = 5
# Members' arrivals travel Kafka and the relay, which may still be joining its consumer group
# when a test runs first in a session.
RELAYED = 30


def watch(live, *room_ids, user=None) -> Socket:
    """A rooms list's socket watching ``room_ids``, its first answer read."""
    sock = Socket(live.socket_url("/ws/rooms/", user))
    sock.send(type="rooms.watch", room_ids=list(room_ids))
    return sock


def counts(sock: Socket) -> dict[int, tuple[int | None, int]]:
    frame = sock.recv_type("rooms.counts")
    return {room["room_id"]: (room["online"], room["like_count"]) for room in frame["rooms"]}


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_like_reaches_the_room_and_the_lists_showing_it_api_and_page_alike(live, client):
    room, elsewhere = make_room(), make_room()
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    with (
        live.room_socket(room, alice) as a,
        live.room_socket(room) as reader,
        live.room_socket(elsewhere, alice) as other_room,
        watch(live, room.pk, elsewhere.pk) as rooms_list,
    ):
        for sock in (a, reader, other_room):
            sock.recv_type("room.presence", timeout=RELAYED)  # in the room now
        assert counts(rooms_list)[room.pk][1] == 0

        # B likes through the API: A, a reader and the list hear the committed count.
        assert api_for(bob).post(f"/api/rooms/{room.pk}/like/").status_code == 201
        expected = {"type": "room.likes", "room_id": room.pk, "like_count": 1}
        assert a.recv_type("room.likes", timeout=SOON) == expected
        assert reader.recv_type("room.likes", timeout=SOON) == expected
        assert rooms_list.recv_type("room.likes", timeout=SOON) == expected

        # A second like by B changes nothing and says nothing (409, rolled back).
        assert api_for(bob).post(f"/api/rooms/{room.pk}/like/").status_code == 409
        # ... and the page's form (a plain POST) unlikes: the same frame with the new count.
        client.force_login(bob)
        answer = client.post(
            f"/rooms/{room.pk}/like/", {"intent": "unlike"}, HTTP_ACCEPT="application/json"
        )
        assert answer.json() == {"room_id": room.pk, "liked": False, "like_count": 0}
        expected = {"type": "room.likes", "room_id": room.pk, "like_count": 0}
        assert a.recv_type("room.likes", timeout=SOON) == expected
        assert rooms_list.recv_type("room.likes", timeout=SOON) == expected
        assert a.quiet_for(0.5, "room.likes") == []  # the refused like sent nothing
        assert other_room.quiet_for(0, "room.likes") == []  # other rooms hear nothing
        # Likes are not on the log: no seq, nothing replayed, no ack to anyone.
        assert all("seq" not in f for f in a.received if f["type"] == "room.likes")


def test_the_rooms_list_socket_follows_online_counts_without_names(live):
    room = make_room()
    member = make_user(nickname="들어온사람")
    with watch(live, room.pk) as rooms_list:
        assert counts(rooms_list) == {room.pk: (0, 0)}
        with live.room_socket(room, member) as sock:
            sock.recv_type("room.presence", timeout=RELAYED)
            # A member arrives through Kafka and the relay: the list gets the count alone.
            assert rooms_list.recv_type("room.presence", timeout=RELAYED) == {
                "type": "room.presence",
                "room_id": room.pk,
                "online": 1,
            }
            with live.room_socket(room) as reader:  # an anonymous reader: straight from the socket
                reader.recv_type("room.presence")
                assert rooms_list.recv_type("room.presence", timeout=5)["online"] == 2
            assert rooms_list.recv_type("room.presence", timeout=5)["online"] == 1
        assert rooms_list.recv_type("room.presence", timeout=RELAYED)["online"] == 0
        # Never a room's messages or its members' names.
        assert {f["type"] for f in rooms_list.received} <= {"rooms.counts", "room.presence"}
        assert not any("joined" in f or "left" in f for f in rooms_list.received)


def test_the_rooms_list_socket_sends_counts_that_changed_without_a_frame_at_its_heartbeat(live):
    """The tests' heartbeat is 2 s (tests/procs.py): a count changed behind the sockets' back
    (here, straight in the database) reaches the list at the next one; unchanged rooms are not
    sent again."""
    room, quiet = make_room(), make_room()
    with watch(live, room.pk, quiet.pk) as rooms_list:
        assert counts(rooms_list) == {room.pk: (0, 0), quiet.pk: (0, 0)}
        ChatRoom.objects.filter(pk=room.pk).update(like_count=7)
        assert counts(rooms_list) == {room.pk: (0, 7)}


def test_rooms_watch_replaces_what_is_watched_and_refuses_what_is_not_a_list_of_ids(live):
    room, other = make_room(), make_room()
    with watch(live, room.pk, 2**62) as rooms_list:  # a room that does not exist is left out
        assert counts(rooms_list) == {room.pk: (0, 0)}
        for bad in (None, "1,2", [0], [-1], [True], ["1"], [1.5], list(range(1, 102))):
            rooms_list.send(type="rooms.watch", room_ids=bad)
            assert rooms_list.recv_type("error")["code"] == "invalid_payload", bad
        rooms_list.send(type="chat.send", client_msg_id="x", body="hi")
        assert rooms_list.recv_type("error")["code"] == "unknown_type"

        rooms_list.send(type="rooms.watch", room_ids=[other.pk])  # the page changed
        assert counts(rooms_list) == {other.pk: (0, 0)}
        services.room_like(room=room, user=make_user())
        services.room_like(room=other, user=make_user())
        assert rooms_list.recv_type("room.likes", timeout=SOON)["room_id"] == other.pk
        assert rooms_list.quiet_for(0.5, "room.likes") == []


def test_a_like_rolled_back_announces_nothing(db, django_capture_on_commit_callbacks):
    """The frame goes after commit: a like that fails is never announced, one that commits is
    announced once."""
    room, member = make_room(), make_user()
    with django_capture_on_commit_callbacks() as callbacks:
        services.room_like(room=room, user=member)
        with pytest.raises(services.Conflict):
            services.room_like(room=room, user=member)
    assert len(callbacks) == 1
