"""Limits for strangers on the sockets (issue 11, item 5).

Concurrent sockets are capped per member and, for anonymous sockets, per client address
(shared by every server process, leased in Redis so a crashed server's sockets stop counting);
anonymous readers cost no Kafka record; catch-up replays at most CHAT_CATCH_UP_LIMIT messages.

The servers here trust one proxy (NUM_PROXIES=1), so each test picks its own client address
with X-Forwarded-For, as nginx would send it.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.request

import pytest

from .conftest import make_hakwon, make_room, make_user, store_messages
from .ws import Socket

PER_MEMBER, PER_ADDRESS, LEASE = 3, 4, 4
_addresses = (f"203.0.113.{i}" for i in itertools.count(1))

CAPPED = {
    "SOCKET_LIMIT_PER_MEMBER": str(PER_MEMBER),
    "SOCKET_LIMIT_ANONYMOUS_PER_ADDRESS": str(PER_ADDRESS),
    "PRESENCE_TTL_SECONDS": str(LEASE),
    "NUM_PROXIES": "1",
    "CHAT_CATCH_UP_LIMIT": "5",
}


@pytest.fixture(scope="module")
def capped(stack):
    web = stack.start_web("web-capped", **CAPPED)
    yield web
    web.stop()


def open_socket(live, web, path, user=None, address=None, **q) -> Socket:
    headers = {"X-Forwarded-For": address} if address else None
    return Socket(live.socket_url(path, user, web=web, **q), headers=headers)


def is_open(sock: Socket) -> bool:
    sock.send(type="no.such.type")
    return sock.recv_type("error", timeout=10)["code"] == "unknown_type"


def refused(sock: Socket) -> str:
    assert sock.close_code() == 4429
    return sock.close_reason


def test_anonymous_sockets_are_capped_per_address(live, capped):
    room, hakwon = make_room(), make_hakwon()
    here, elsewhere = next(_addresses), next(_addresses)
    paths = [f"/ws/rooms/{room.pk}/", f"/ws/hakwons/{hakwon.pk}/"]  # both kinds count
    held = [open_socket(live, capped, paths[i % 2], address=here) for i in range(PER_ADDRESS)]
    assert all(is_open(s) for s in held)
    assert refused(open_socket(live, capped, paths[0], address=here)) == (
        "too many sockets from here"
    )
    # Another address, and a member at this one, are not affected.
    other = open_socket(live, capped, paths[0], address=elsewhere)
    member = open_socket(live, capped, paths[0], make_user(), address=here)
    assert is_open(other) and is_open(member)
    # Closing one frees its slot at once.
    held.pop().close()
    time.sleep(0.3)
    again = open_socket(live, capped, paths[1], address=here)
    assert is_open(again)
    for sock in [*held, other, member, again]:
        sock.close()


def test_a_members_sockets_are_capped_wherever_they_come_from(live, capped):
    room, hakwon, member = make_room(), make_hakwon(), make_user()
    held = [
        open_socket(live, capped, f"/ws/rooms/{room.pk}/", member, address=next(_addresses)),
        open_socket(live, capped, f"/ws/hakwons/{hakwon.pk}/", member, address=next(_addresses)),
        open_socket(live, capped, f"/ws/rooms/{room.pk}/", member, address=next(_addresses)),
    ]
    assert all(is_open(s) for s in held)
    extra = open_socket(live, capped, f"/ws/rooms/{room.pk}/", member, address=next(_addresses))
    assert refused(extra) == "too many sockets for this member"
    assert is_open(open_socket(live, capped, f"/ws/rooms/{room.pk}/", make_user()))
    for sock in held:
        sock.close()


@pytest.mark.outage
def test_the_slots_of_a_crashed_server_free_themselves(live, capped):
    """SIGKILL leaves no chance to give slots back: their leases run out instead."""
    room, here = make_room(), next(_addresses)
    doomed = live.start_web("web-capped-doomed", **CAPPED)
    try:
        held = [
            open_socket(live, doomed, f"/ws/rooms/{room.pk}/", address=here)
            for _ in range(PER_ADDRESS)
        ]
        assert all(is_open(s) for s in held)
        doomed.kill()
        killed = time.monotonic()
        assert refused(open_socket(live, capped, f"/ws/rooms/{room.pk}/", address=here))
        while True:
            sock = open_socket(live, capped, f"/ws/rooms/{room.pk}/", address=here)
            try:
                sock.close_code(timeout=1)
            except TimeoutError:  # still open after a second: it got a slot
                break
            assert time.monotonic() - killed < LEASE + 5, "slots never freed"
            time.sleep(0.5)
        assert is_open(sock)
        sock.close()
    finally:
        doomed.stop()


def test_anonymous_readers_cost_the_room_no_presence_event(live, capped):
    """Members are announced to the room; anonymous readers only count (Redis leases)."""
    room, alice, bob = make_room(), make_user(nickname="앨리스"), make_user(nickname="밥")
    with open_socket(live, capped, f"/ws/rooms/{room.pk}/", alice) as a:
        assert a.recv_type("room.presence")["online"] == 1
        readers = []
        for i in range(3):
            reader = open_socket(live, capped, f"/ws/rooms/{room.pk}/", address=next(_addresses))
            # A reader is told the count on arrival, and only it.
            assert reader.recv_type("room.presence") == {
                "type": "room.presence",
                "room_id": room.pk,
                "online": 2 + i,
            }
            readers.append(reader)
        for reader in readers[:2]:
            reader.close()
        assert a.quiet_for(2 * 2.0, "room.presence") == []
        with open_socket(live, capped, f"/ws/rooms/{room.pk}/", bob):
            joined = a.recv_type("room.presence")
            assert joined["joined"] == {"nickname": "밥"} and joined["online"] == 3
        readers[2].close()


def test_catch_up_replays_at_most_the_limit_after_a_gap_frame(live, capped):
    room, member = make_room(), make_user()
    store_messages(room, member, 12)
    with open_socket(live, capped, f"/ws/rooms/{room.pk}/", after_seq=2) as sock:
        assert sock.recv() == {"type": "chat.gap", "after_seq": 2, "before_seq": 8}
        assert [m["seq"] for m in sock.collect("chat.message", 5)] == [8, 9, 10, 11, 12]
    with open_socket(live, capped, f"/ws/rooms/{room.pk}/", after_seq=7) as sock:
        assert [m["seq"] for m in sock.collect("chat.message", 5)] == [8, 9, 10, 11, 12]
        assert [f for f in sock.received if f["type"] == "chat.gap"] == []
    # The older ones come from the history API.
    older = live_json(capped, f"/api/rooms/{room.pk}/messages/?before_seq=8&limit=50")
    assert [m["seq"] for m in older["results"]] == [1, 2, 3, 4, 5, 6, 7]


def live_json(web, path: str):
    with urllib.request.urlopen(web.http + path, timeout=10) as response:
        return json.loads(response.read())
