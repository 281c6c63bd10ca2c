"""Who is online in a room, kept in Redis with heartbeats.

Each open socket is a member of a sorted set per room, scored by the time its lease runs out.
Sockets refresh their lease on every heartbeat, so the sockets of a server that crashed stop
counting once their lease expires (PRESENCE_TTL_SECONDS, a minute by default).
"""

from __future__ import annotations

from django.conf import settings

from zzalu.redis import get_async_redis, get_redis, key


def _room_key(room_id: int) -> str:
    return key("presence", "room", room_id)


async def presence_touch(*, room_id: int, socket_id: str) -> None:
    """Enter the room or renew this socket's lease."""
    client = get_async_redis()
    now = (await client.time())[0]
    await client.zadd(_room_key(room_id), {socket_id: now + settings.PRESENCE_TTL_SECONDS})


async def presence_leave(*, room_id: int, socket_id: str) -> None:
    await get_async_redis().zrem(_room_key(room_id), socket_id)


async def presence_count(*, room_id: int) -> int:
    """Live sockets in one room, from a socket's event loop."""
    client = get_async_redis()
    now = (await client.time())[0]
    async with client.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(_room_key(room_id), "-inf", now)
        pipe.zcard(_room_key(room_id))
        return int((await pipe.execute())[1])


def online_counts(room_ids: list[int]) -> dict[int, int]:
    """Live sockets per room; expired leases are dropped on the way."""
    if not room_ids:
        return {}
    client = get_redis()
    now = client.time()[0]
    pipe = client.pipeline(transaction=False)
    for room_id in room_ids:
        pipe.zremrangebyscore(_room_key(room_id), "-inf", now)
        pipe.zcard(_room_key(room_id))
    results = pipe.execute()
    return {room_id: int(results[2 * i + 1]) for i, room_id in enumerate(room_ids)}


def online_count(room_id: int) -> int:
    return online_counts([room_id])[room_id]
