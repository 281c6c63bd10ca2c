"""The relay's Announcer: a batch's group messages reach the channel layer's own receivers, in
order, whether they go out pipelined (the Redis pub/sub layer) or one group_send at a time."""

from __future__ import annotations

import asyncio
import socket
import uuid

from channels.layers import get_channel_layer

from zzalu.relay import Announcer


async def received(layer, groups: list[str], announce, messages, wanted: int) -> list[dict]:
    """What a channel that joined ``groups`` receives once ``announce(messages)`` ran."""
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    await asyncio.sleep(0.1)  # pub/sub: a subscription is live once Redis acknowledged it
    await asyncio.to_thread(announce, messages)
    got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(wanted)]
    for group in groups:
        await layer.group_discard(group, channel)
    return got


def batch(groups: list[str]) -> list[tuple[str, dict]]:
    first, second = groups
    return [
        (first, {"type": "chat.frames", "n": 1}),
        (second, {"type": "chat.frames", "n": 2}),
        (first, {"type": "chat.frames", "n": 3}),
        (second, {"type": "room.presence", "n": 4}),
    ]


def test_a_batch_reaches_the_layers_receivers_in_order(real_services):
    layer = get_channel_layer()
    announce = Announcer()
    assert announce.publisher is not None  # the configured layer is pub/sub: pipelined
    groups = [f"room.{uuid.uuid4().hex}", f"room.{uuid.uuid4().hex}"]
    try:
        got = asyncio.run(received(layer, groups, announce, batch(groups), 4))
    finally:
        announce.close()
    assert [m["n"] for m in got] == [1, 2, 3, 4]
    assert got[3] == {"type": "room.presence", "n": 4}


def test_messages_to_a_group_nobody_joined_go_nowhere(real_services):
    layer = get_channel_layer()
    announce = Announcer()
    groups = [f"room.{uuid.uuid4().hex}", f"room.{uuid.uuid4().hex}"]
    messages = [(f"room.{uuid.uuid4().hex}", {"type": "chat.frames", "n": 0}), *batch(groups)]
    try:
        got = asyncio.run(received(layer, groups, announce, messages, 4))
    finally:
        announce.close()
    assert [m["n"] for m in got] == [1, 2, 3, 4]


def test_a_publisher_whose_connection_broke_sends_on_a_new_one(real_services):
    """The publisher keeps one connection per Redis host; one that broke since (a Redis
    restart, a proxy's idle timeout) costs the batch a second try, not a failed round."""
    layer = get_channel_layer()
    announce = Announcer()
    groups = [f"room.{uuid.uuid4().hex}", f"room.{uuid.uuid4().hex}"]
    try:
        announce([(groups[0], {"type": "chat.frames", "n": 0})])  # the connection is open
        (kept,) = announce.publisher.connections
        kept._sock.shutdown(socket.SHUT_RDWR)  # broken under it, as a server's close does
        got = asyncio.run(received(layer, groups, announce, batch(groups), 4))
    finally:
        announce.close()
    assert [m["n"] for m in got] == [1, 2, 3, 4]


class RecordingLayer:
    """A channel layer of another kind (not Redis pub/sub): it records its group_sends."""

    def __init__(self):
        self.sent = []

    async def group_send(self, group, message):
        await asyncio.sleep(0)
        self.sent.append((group, message))


def test_another_layer_gets_one_group_send_after_another():
    layer = RecordingLayer()
    announce = Announcer(layer)
    assert announce.publisher is None
    messages = batch(["room.1", "room.2"])
    try:
        announce(messages)
    finally:
        announce.close()
    assert layer.sent == messages
