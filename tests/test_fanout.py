"""zzalu.fanout on its own: one subscription per group per process, every member served in
turn, a member that waits or fails holds up nobody, presence coalesced.

Pure logic, so the channel layer here is a stand-in (the real one is under every socket test).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from zzalu import fanout as fanout_module
from zzalu.fanout import Fanout


class Layer:
    """A channel layer's group calls, in memory."""

    def __init__(self):
        self.queues: dict[str, asyncio.Queue] = {}
        self.groups: dict[str, set[str]] = defaultdict(set)
        self.adds = 0

    async def new_channel(self, prefix=""):
        name = f"{prefix}{len(self.queues)}"
        self.queues[name] = asyncio.Queue()
        return name

    async def group_add(self, group, channel):
        self.adds += 1
        self.groups[group].add(channel)

    async def group_discard(self, group, channel):
        self.groups[group].discard(channel)

    async def receive(self, channel):
        return await self.queues[channel].get()

    async def group_send(self, group, message):
        for channel in self.groups[group]:
            self.queues[channel].put_nowait(message)


class Socket:
    def __init__(self, *, stuck: asyncio.Event | None = None, fails: bool = False):
        self.got: list[str] = []
        self.stuck, self.fails = stuck, fails

    async def room_frame(self, message):
        if self.fails:
            raise RuntimeError("this socket's handler is broken")
        if self.stuck is not None:
            await self.stuck.wait()  # a client that stopped reading
        self.got.append(message["frame"])


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


def test_one_subscription_per_group_and_every_member_in_turn():
    async def scenario():
        layer = Layer()
        hub = Fanout(layer)
        stuck = asyncio.Event()
        slow, broken = Socket(stuck=stuck), Socket(fails=True)
        sockets = [Socket(), slow, broken, Socket()]
        for socket in sockets:
            await hub.join("room.1", socket)
        assert layer.adds == 1 and len(layer.groups["room.1"]) == 1
        for n in range(3):
            await layer.group_send("room.1", {"type": "room.frame", "frame": f"f{n}"})
        await settle()
        # The stuck socket and the broken one held up nobody.
        assert sockets[0].got == sockets[3].got == ["f0", "f1", "f2"]
        assert slow.got == []
        stuck.set()
        await settle()
        assert sorted(slow.got) == ["f0", "f1", "f2"]
        for socket in sockets:
            await hub.leave("room.1", socket)
        assert layer.groups["room.1"] == set() and hub.groups == {}

    asyncio.run(scenario())


def test_presence_is_coalesced_to_one_frame_per_interval(monkeypatch):
    monkeypatch.setattr(fanout_module, "COALESCE_SECONDS", 0.2)

    async def scenario():
        layer = Layer()
        hub = Fanout(layer)
        socket = Socket()
        await hub.join("room.1", socket)
        for n in range(1, 6):  # five joins at once
            await layer.group_send(
                "room.1", {"type": "room.frame", "frame": f"who{n}", "coalesce": f"count{n}"}
            )
        await settle()
        assert socket.got == ["who1"]  # the first goes at once
        await asyncio.sleep(0.3)
        assert socket.got == ["who1", "count5"]  # then the newest count, naming nobody
        await layer.group_send("room.1", {"type": "room.frame", "frame": "who6", "coalesce": "c6"})
        await asyncio.sleep(0.3)
        assert socket.got == ["who1", "count5", "who6"]  # one alone keeps its name
        await layer.group_send("room.1", {"type": "room.frame", "frame": "plain"})
        await settle()
        assert socket.got[-1] == "plain"  # the rest are never held

    asyncio.run(scenario())


class SlowLayer(Layer):
    """Its subscriptions take a moment, and may be refused (Redis down)."""

    def __init__(self, *, refuse: bool = False):
        super().__init__()
        self.refuse = refuse

    async def group_add(self, group, channel):
        await asyncio.sleep(0.05)
        if self.refuse:
            raise ConnectionError("Redis is away")
        await super().group_add(group, channel)


def test_a_refused_subscription_fails_every_socket_waiting_for_it():
    async def scenario():
        hub = Fanout(SlowLayer(refuse=True))
        first, second = Socket(), Socket()
        results = await asyncio.gather(
            hub.join("room.1", first), hub.join("room.1", second), return_exceptions=True
        )
        assert [type(r) for r in results] == [ConnectionError, ConnectionError]
        assert hub.groups == {}

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_a_room_left_while_its_subscription_was_on_its_way_is_dropped():
    async def scenario():
        layer = SlowLayer()
        hub = Fanout(layer)
        socket = Socket()
        joining = asyncio.ensure_future(hub.join("room.1", socket))
        await asyncio.sleep(0)
        await hub.leave("room.1", socket)  # the socket closed during its opening
        await joining
        assert hub.groups == {} and layer.groups["room.1"] == set()

    asyncio.run(asyncio.wait_for(scenario(), 5))


class Numbered:
    """A socket that takes numbered frames only."""

    async def chat_frames(self, message):
        pass


def frames(*seqs: int, **extra) -> dict:
    return {
        "type": "chat.frames",
        "seqs": list(seqs),
        "ack_ids": [f"a{s}" for s in seqs],
        "frames": [f"f{s}" for s in seqs],
        **extra,
    }


def test_numbered_frames_are_kept_for_opening_sockets_while_they_follow_on(monkeypatch):
    monkeypatch.setattr(fanout_module, "RECENT_SECONDS", 0.2)

    async def scenario():
        layer = Layer()
        hub = Fanout(layer)
        await hub.join("room.1", Numbered())
        assert hub.recent("room.1", 0, 1) is None  # nothing came yet: read the log
        await layer.group_send("room.1", frames(5, 6))
        await layer.group_send("room.1", frames(6, 7, affects={"7": [42, "ban"]}))  # again
        await layer.group_send("room.1", {"type": "room.frame", "frame": "typing"})
        await settle()
        kept = hub.recent("room.1", 5, 7)
        assert [(k.seq, k.ack_id, k.text, k.affects) for k in kept] == [
            (6, "a6", "f6", None),
            (7, "a7", "f7", (42, "ban")),
        ]
        assert [k.seq for k in hub.recent("room.1", 4, 6)] == [5, 6]
        assert hub.recent("room.1", 3, 6) is None  # 4 was never kept
        assert hub.recent("room.1", 5, 8) is None  # 8 is not here yet
        assert hub.recent("room.2", 0, 1) is None  # a group this process is not in
        await layer.group_send("room.1", frames(9))  # 8 went missing on its way
        await settle()
        assert hub.recent("room.1", 6, 7) is None and hub.recent("room.1", 7, 9) is None
        assert [k.seq for k in hub.recent("room.1", 8, 9)] == [9]
        await asyncio.sleep(0.3)
        assert hub.recent("room.1", 8, 9) is None  # too old: the log has its current state

    asyncio.run(scenario())


def test_a_socket_without_a_handler_or_a_malformed_message_stops_no_one():
    async def scenario():
        layer = Layer()
        hub = Fanout(layer)
        plain = Socket()
        await hub.join("room.1", Numbered())
        await hub.join("room.1", plain)
        await layer.group_send("room.1", {"type": "room.frame", "frame": "f1"})
        await layer.group_send("room.1", frames())  # Socket has no chat_frames
        await layer.group_send("room.1", frames(1) | {"frames": []})  # not as the relay sends
        await layer.group_send("room.1", {"type": "room.frame", "frame": "f2"})
        await settle()
        assert plain.got == ["f1", "f2"]  # the group's reader went on

    asyncio.run(scenario())
