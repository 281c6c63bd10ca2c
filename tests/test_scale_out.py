"""Scale-out on Kafka's own machinery: two web server processes and two relays in one consumer
group. Members on different servers see each other in order; a relay killed mid-stream hands
its partitions to the other without losing or duplicating anything."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import pytest
from django.conf import settings

from chat.models import ChatMessage
from zzalu.kafka import make_admin

from .conftest import make_room, make_user
from .procs import Relay
from .ws import Socket, send_until_acked


def group_members() -> int:
    admin = make_admin()
    try:
        group = admin.describe_groups([settings.KAFKA_RELAY_GROUP])[settings.KAFKA_RELAY_GROUP]
        return len(group["members"])
    finally:
        admin.close()


@contextmanager
def running(proc):
    try:
        yield proc
    finally:
        proc.stop()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def test_members_on_two_servers_see_each_other_in_order(live):
    web2 = live.start_web("web-2")
    try:
        room, alice, bob = make_room(), make_user(), make_user()
        with (
            live.room_socket(room, alice) as a,
            Socket(live.socket_url(f"/ws/rooms/{room.pk}/", bob, web=web2)) as b,
        ):
            for i in range(10):
                sender = a if i % 2 == 0 else b
                sender.send(type="chat.send", client_msg_id=f"m{i}", body=f"m{i}")
                sender.recv_type("chat.ack")
            seen_a = [m["body"] for m in a.collect("chat.message", 10)]
            seen_b = [m["body"] for m in b.collect("chat.message", 10)]
        assert seen_a == seen_b == [f"m{i}" for i in range(10)]
    finally:
        web2.stop()


@pytest.mark.outage
def test_killing_one_of_two_relays_moves_its_partitions_and_loses_nothing(live):
    rooms = [make_room() for _ in range(6)]
    alice, bob = make_user(), make_user()
    per_sender, total = 150, 300
    with ExitStack() as cleanup:
        web2 = cleanup.enter_context(running(live.start_web("web-2")))
        cleanup.enter_context(running(Relay("relay-2").start()))
        cleanup.callback(lambda: live.relay.running or live.relay.start())
        wait_for(lambda: group_members() == 2, 60, "both relays to join the group")
        watchers = [cleanup.enter_context(live.room_socket(room)) for room in rooms]
        # Each room has a sender on each web server.
        senders = [
            (
                cleanup.enter_context(live.room_socket(room, alice)),
                cleanup.enter_context(
                    Socket(live.socket_url(f"/ws/rooms/{room.pk}/", bob, web=web2))
                ),
            )
            for room in rooms
        ]

        def stream(sock, who: int):
            # As a client does: each message acknowledged (or retried while `unavailable`,
            # which a starved CI machine can answer) before the next.
            for i in range(per_sender):
                send_until_acked(sock, f"{who}:{i}", f"{who}-{i}")
                time.sleep(0.01)

        pool = cleanup.enter_context(ThreadPoolExecutor(len(senders) * 2))
        streams = [
            pool.submit(stream, sock, who) for pair in senders for who, sock in enumerate(pair)
        ]
        early = watchers[0].collect("chat.message", 40, timeout=60)
        live.relay.kill()  # SIGKILL mid-stream: no chance to commit
        stored_at_kill = ChatMessage.objects.filter(room__in=rooms).count()
        for finished in streams:
            finished.result()  # every message acknowledged, or the sender's error
        wait_for(lambda: group_members() == 1, 60, "the dead relay to leave the group")

        for index, (room, watcher) in enumerate(zip(rooms, watchers, strict=True)):
            got = early if index == 0 else []
            got = got + watcher.collect("chat.message", total - len(got), timeout=120)
            assert [m["seq"] for m in got] == list(range(1, total + 1)), room
            for who in ("0", "1"):
                mine = [int(m["body"][2:]) for m in got if m["body"].startswith(who + ":")]
                assert mine == list(range(per_sender))
            rows = ChatMessage.objects.filter(room=room)
            assert rows.count() == total == rows.values("event_id").distinct().count()
        assert stored_at_kill < total * len(rooms), "the relay must die mid-stream"
