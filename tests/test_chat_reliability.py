"""Failures that must not lose an acknowledged message: a relay killed with SIGKILL, the broker
stopped and started, Redis restarted. Each uses the real processes and the repo's scripts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from chat.models import ChatMessage

from .conftest import make_room, make_user
from .services import service
from .ws import send_until_acked


def stored_bodies(room) -> list[str]:
    return list(
        ChatMessage.objects.filter(room=room).order_by("seq").values_list("body", flat=True)
    )


def assert_stored_once_in_order(room, bodies: list[str]) -> None:
    rows = list(ChatMessage.objects.filter(room=room).order_by("seq").values_list("seq", "body"))
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    assert [body for _, body in rows] == bodies


@pytest.mark.outage
def test_relay_killed_mid_stream_loses_nothing_and_stores_nothing_twice(live):
    room, alice = make_room(), make_user()
    total = 2000
    bodies = [f"m{i}" for i in range(total)]
    with live.room_socket(room) as watcher, live.room_socket(room, alice) as sender:

        def stream():
            for i, body in enumerate(bodies):
                sender.send(type="chat.send", client_msg_id=body, body=body)
                if i % 50 == 49:
                    time.sleep(0.05)  # about a second per 1,000: the kill lands mid-stream

        streaming = threading.Thread(target=stream)
        streaming.start()
        before_kill = watcher.collect("chat.message", 300, timeout=60)
        live.relay.kill()
        stored_at_kill = ChatMessage.objects.filter(room=room).count()
        streaming.join()
        acks = sender.collect("chat.ack", total, timeout=60)
        live.relay.start()
        after = watcher.collect("chat.message", total - len(before_kill), timeout=180)
        assert watcher.quiet_for(1, "chat.message") == []

    assert stored_at_kill < total, "the relay must be killed in the middle of the stream"
    assert {a["client_msg_id"] for a in acks} == set(bodies)
    received = before_kill + after
    assert [m["seq"] for m in received] == list(range(1, total + 1))
    assert [m["body"] for m in received] == bodies
    assert_stored_once_in_order(room, bodies)


@pytest.mark.outage
def test_broker_down_is_unavailable_quickly_and_sending_resumes_on_the_same_socket(live):
    room, alice = make_room(), make_user()
    with live.room_socket(room) as watcher, live.room_socket(room, alice) as sender:
        send_until_acked(sender, "before", "before")
        service("stop", "kafka")
        try:
            started = time.monotonic()
            sender.send(type="chat.send", client_msg_id="while-down", body="while down")
            error = sender.recv_type("error", timeout=20)
            waited = time.monotonic() - started
        finally:
            service("start", "kafka")
        assert error["code"] == "unavailable" and error["client_msg_id"] == "while-down"
        assert waited < 8, f"took {waited:.1f}s to say unavailable"

        send_until_acked(sender, "after", "after")
        seen = []
        while "after" not in seen:
            seen.append(watcher.recv_type("chat.message", timeout=90)["body"])
    assert seen[0] == "before"
    # Never an ack for an unstored message: both acknowledged ones are stored, once, in order.
    assert [b for b in stored_bodies(room) if b != "while down"] == ["before", "after"]


def test_redis_restart_loses_no_acknowledged_message(live):
    room, alice = make_room(), make_user()
    with live.room_socket(room) as watcher, live.room_socket(room, alice) as sender:
        send_until_acked(sender, "before", "before")
        assert watcher.recv_type("chat.message")["body"] == "before"
        service("restart", "redis")
        acked = [f"after {i}" for i in range(20)]
        for body in acked:
            send_until_acked(sender, body, body)
        got = [m["body"] for m in watcher.collect("chat.message", len(acked), timeout=60)]
        assert watcher.quiet_for(1, "chat.message") == []
    assert got == acked
    assert_stored_once_in_order(room, ["before", *acked])


def test_the_apps_redis_clients_reconnect_after_a_restart(real_services):
    """Pooled connections that outlived a Redis restart are replaced (rate limits and presence
    use these clients; a server opening a socket after the restart must not fail it)."""
    from zzalu.redis import get_async_redis, get_redis

    async def ping_twice_across_a_restart():
        client = get_async_redis()
        await client.ping()
        await asyncio.to_thread(service, "restart", "redis")
        return await client.ping()

    get_redis().ping()
    assert asyncio.run(ping_twice_across_a_restart())
    assert get_redis().ping()  # its pooled connection also predates the restart
