"""Chat end to end: socket -> Kafka -> relay -> Redis channel layer -> sockets."""

from __future__ import annotations

import threading
import time
import uuid

from django.conf import settings
from kafka import KafkaConsumer

from chat.models import ChatMessage
from zzalu import envelope

from .conftest import make_room, make_user, store_messages
from .test_poison_records import sample, scrape


def send(sock, body: str, client_msg_id: str | None = None, **extra) -> str:
    client_msg_id = client_msg_id or uuid.uuid4().hex
    sock.send(type="chat.send", client_msg_id=client_msg_id, body=body, **extra)
    return client_msg_id


def chat_records(room_id: int, wanted: int, timeout: float = 10) -> list[dict]:
    """Read ``chat.events`` from the start until ``wanted`` records keyed by the room appear."""
    consumer = KafkaConsumer(
        settings.KAFKA_TOPICS["chat"]["name"],
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        auto_offset_reset="earliest",
    )
    found, deadline = [], time.monotonic() + timeout
    while len(found) < wanted and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            found += [envelope.decode(r.value) for r in records if r.key == str(room_id).encode()]
    consumer.close()
    return found


def test_a_message_reaches_sender_and_member_and_is_on_kafka_keyed_by_room(live):
    room, alice, bob = make_room(), make_user(nickname="앨리스"), make_user()
    with live.room_socket(room, alice) as a, live.room_socket(room, bob) as b:
        cid = send(a, "안녕하세요", gif_url="https://media.test/hi.gif")
        ack = a.recv_type("chat.ack")
        mine = a.recv_type("chat.message")
        theirs = b.recv_type("chat.message")
    # The ack comes first, and it names the event everyone then receives.
    assert [f["type"] for f in a.received if f["type"].startswith("chat.")] == [
        "chat.ack",
        "chat.message",
    ]
    assert ack == {"type": "chat.ack", "client_msg_id": cid, "event_id": mine["event_id"]}
    assert mine == theirs
    assert mine["seq"] == 1 and mine["room_id"] == room.pk
    assert mine["body"] == "안녕하세요" and mine["gif_url"] == "https://media.test/hi.gif"
    assert mine["sender"] == {
        "id": alice.pk,
        "username": alice.username,
        "nickname": "앨리스",
        "profile_path": "",
    }
    assert mine["sent_at"].endswith("Z")

    messages = [e for e in chat_records(room.pk, wanted=1) if e["type"] == "chat.message"]
    assert [e["event_id"] for e in messages] == [ack["event_id"]]
    assert ChatMessage.objects.get(room=room).event_id == uuid.UUID(ack["event_id"])


def test_three_rooms_interleaved_keep_send_order_with_contiguous_seqs(live):
    rooms = [make_room() for _ in range(3)]
    senders = [make_user() for _ in range(3)]
    per_room = 200
    listeners = [live.room_socket(room) for room in rooms]
    sockets = {(r.pk, s.pk): live.room_socket(r, s) for r in rooms for s in senders}
    try:
        sent: dict[int, list[str]] = {r.pk: [] for r in rooms}
        # One driver sends round-robin over rooms and senders, each send acknowledged before
        # the next, so the order of sends is a total order to check against.
        for i in range(per_room):
            for r, room in enumerate(rooms):
                sock = sockets[(room.pk, senders[(i + r) % len(senders)].pk)]
                cid = send(sock, f"{room.pk}-{i}")
                assert sock.recv_type("chat.ack")["client_msg_id"] == cid
                sent[room.pk].append(f"{room.pk}-{i}")
        for room, listener in zip(rooms, listeners, strict=True):
            got = listener.collect("chat.message", per_room, timeout=60)
            assert [m["body"] for m in got] == sent[room.pk]
            assert [m["seq"] for m in got] == list(range(1, per_room + 1))
            assert listener.quiet_for(0.5, "chat.message") == []
    finally:
        for sock in [*listeners, *sockets.values()]:
            sock.close()


def test_concurrent_senders_keep_each_senders_order(live):
    room = make_room()
    senders = [make_user() for _ in range(4)]
    per_sender = 100
    with live.room_socket(room) as listener:

        def blast(user):
            with live.room_socket(room, user) as sock:
                for i in range(per_sender):
                    send(sock, f"{user.pk}:{i}")
                sock.collect("chat.ack", per_sender, timeout=60)

        threads = [threading.Thread(target=blast, args=(u,)) for u in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = listener.collect("chat.message", per_sender * len(senders), timeout=60)
    assert [m["seq"] for m in got] == list(range(1, len(got) + 1))
    for user in senders:
        mine = [int(m["body"].split(":")[1]) for m in got if m["sender"]["id"] == user.pk]
        assert mine == list(range(per_sender))


def test_reconnecting_with_after_seq_gets_exactly_the_missed_messages_then_live(live):
    room, alice, bob = make_room(), make_user(), make_user()
    with live.room_socket(room, alice) as a:
        with live.room_socket(room, bob) as b:
            send(a, "before")
            last_seen = b.recv_type("chat.message")["seq"]
        for i in range(50):
            send(a, f"missed {i}")
        a.collect("chat.ack", 50)
        a.collect("chat.message", 51)  # its own echo, so all 50 are stored
        with live.room_socket(room, bob, after_seq=last_seen) as b:
            caught_up = b.collect("chat.message", 50)
            send(a, "live")
            live_one = b.recv_type("chat.message")
            assert b.quiet_for(0.5, "chat.message") == []
    assert [m["body"] for m in caught_up] == [f"missed {i}" for i in range(50)]
    assert [m["seq"] for m in caught_up] == list(range(last_seen + 1, last_seen + 51))
    assert live_one["body"] == "live" and live_one["seq"] == last_seen + 51


def test_a_socket_opening_in_a_busy_room_replays_what_its_web_process_kept(live):
    """The web process's fan-out keeps the room's last seconds of frames: a socket opening
    there replays them from memory; what is older comes from the log, in one sequence."""
    room, alice, bob = make_room(), make_user(), make_user()
    store_messages(room, alice, 3)  # before any socket: only the log has seqs 1-3

    def replayed() -> tuple[float, float]:
        web = scrape(live.web.http + "/metrics")
        return tuple(
            sample(web, "zzalu_socket_catch_up_entries_total", source=s) for s in ("kept", "log")
        )

    with live.room_socket(room, alice) as a:
        for i in range(5):
            send(a, f"kept {i}")
        a.collect("chat.message", 5)  # seqs 4-8, through the fan-out
        kept, logged = replayed()
        with live.room_socket(room, bob, after_seq=5) as b:
            from_memory = b.collect("chat.message", 3)
        assert replayed() == (kept + 3, logged)
        with live.room_socket(room, bob, after_seq=0) as b:
            from_both = b.collect("chat.message", 8)
            send(a, "live")
            live_one = b.recv_type("chat.message")
        assert replayed() == (kept + 3, logged + 8)  # one page: the log has all of it
    assert [m["seq"] for m in from_memory] == [6, 7, 8]
    assert [m["body"] for m in from_memory] == ["kept 2", "kept 3", "kept 4"]
    assert [m["seq"] for m in from_both] == list(range(1, 9))
    assert live_one["seq"] == 9


def test_a_retried_client_msg_id_is_stored_once_and_acked_twice_with_the_same_event_id(live):
    room, alice = make_room(), make_user()
    with live.room_socket(room, alice) as a, live.room_socket(room) as watcher:
        send(a, "once", client_msg_id="retry-me")
        first = a.recv_type("chat.ack")
        send(a, "once", client_msg_id="retry-me")
        second = a.recv_type("chat.ack")
        send(a, "after", client_msg_id="next")
        a.recv_type("chat.ack")
        got = watcher.collect("chat.message", 2)
    assert first == second
    assert [m["body"] for m in got] == ["once", "after"]
    assert [m["seq"] for m in got] == [1, 2]
    assert ChatMessage.objects.filter(room=room, client_msg_id="retry-me").count() == 1
    assert ChatMessage.objects.filter(room=room).count() == 2


def test_presence_counts_and_names_who_joined_and_left(live, api):
    room, alice, bob = make_room(), make_user(nickname="앨리스"), make_user(nickname="밥")
    with live.room_socket(room, alice) as a:
        a.recv_type("room.presence")  # its own arrival
        with live.room_socket(room, bob):
            joined = a.recv_type("room.presence")
            assert joined["online"] == 2 and joined["joined"] == {"nickname": "밥"}
            assert api.get(f"/api/rooms/{room.pk}/").data["online"] == 2
            listed = api.get("/api/rooms/").data["results"]
            assert {r["id"]: r["online"] for r in listed}[room.pk] == 2
        left = a.recv_type("room.presence")
    assert left["online"] == 1 and left["left"] == {"nickname": "밥"}


def test_history_api_pages_back_and_catches_up(live, api):
    room, alice = make_room(), make_user()
    with live.room_socket(room, alice) as a:
        for i in range(120):
            send(a, f"m{i}")
        a.collect("chat.message", 120, timeout=60)
    url = f"/api/rooms/{room.pk}/messages/"
    latest = api.get(url).data
    assert latest["last_seq"] == 120
    assert [m["seq"] for m in latest["results"]] == list(range(71, 121))
    older = api.get(url, {"before_seq": 71, "limit": 200}).data["results"]
    assert [m["seq"] for m in older] == list(range(1, 71))
    after = api.get(url, {"after_seq": 100, "limit": 5}).data["results"]
    assert [m["seq"] for m in after] == [101, 102, 103, 104, 105]
    assert after[0]["body"] == "m100" and after[0]["type"] == "chat.message"
    assert api.get(url, {"limit": 201}).status_code == 400
    assert api.get(url, {"after_seq": "x"}).status_code == 400
    assert api.get("/api/rooms/999999/messages/").status_code == 404


def test_the_same_client_msg_id_in_two_rooms_is_two_messages(live):
    first, second, alice = make_room(), make_room(), make_user()
    with live.room_socket(first, alice) as a, live.room_socket(second, alice) as b:
        send(a, "첫 방", client_msg_id="1")
        send(b, "둘째 방", client_msg_id="1")
        ack_a, ack_b = a.recv_type("chat.ack"), b.recv_type("chat.ack")
        assert a.recv_type("chat.message")["body"] == "첫 방"
        assert b.recv_type("chat.message")["body"] == "둘째 방"
    assert ack_a["event_id"] != ack_b["event_id"]
    assert ChatMessage.objects.filter(sender=alice, client_msg_id="1").count() == 2
