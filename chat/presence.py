"""Who is online in a room, kept in Redis with heartbeats.

Each open socket is a member of a sorted set per room, scored by the time its lease runs out.
Sockets refresh their lease on every heartbeat, so the sockets of a server that crashed stop
counting once their lease expires (PRESENCE_TTL_SECONDS, a minute by default).

A set member names its socket and whose it is: ``"<user id>:<channel name>"``, ``"0:…"`` for an
anonymous reader. Counts are sockets (a member with two tabs counts twice); the list of who is
online (``room_presence``) is members, each once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from zzalu.redis import get_async_redis, get_redis, key, redis_eval

ANONYMOUS = 0


def _room_key(room_id: int) -> str:
    return key("presence", "room", room_id)


def _entry(user_id: int | None, socket_id: str) -> str:
    return f"{user_id or ANONYMOUS}:{socket_id}"


def _owner(entry: bytes) -> int:
    """The user id a set member names; ANONYMOUS for a reader (or an entry of another shape)."""
    owner, _, _ = entry.partition(b":")
    return int(owner) if owner.isdigit() else ANONYMOUS


# The lease runs out PRESENCE_TTL_SECONDS after now on Redis's clock (every web server's clock
# is the same one): one round trip, not TIME then ZADD.
_TOUCH = """
local now = tonumber(redis.call('TIME')[1])
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
"""


async def presence_touch(*, room_id: int, user_id: int | None, socket_id: str) -> None:
    """Enter the room or renew this socket's lease (``user_id`` None: an anonymous reader)."""
    await redis_eval(
        (_TOUCH, 1, _room_key(room_id), _entry(user_id, socket_id), settings.PRESENCE_TTL_SECONDS)
    )


async def presence_leave(*, room_id: int, user_id: int | None, socket_id: str) -> None:
    await get_async_redis().zrem(_room_key(room_id), _entry(user_id, socket_id))


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


def room_presence(room_id: int) -> dict[str, Any]:
    """Who is in the room now: ``{"members": [{"id", "nickname", "profile_path"}, ...],
    "anonymous": <anonymous sockets>}``, members with at least one live socket, each once, by
    nickname. One Redis round trip and one query; raises RedisError when Redis is down."""
    from django.contrib.auth import get_user_model

    client = get_redis()
    now = client.time()[0]
    pipe = client.pipeline(transaction=False)
    pipe.zremrangebyscore(_room_key(room_id), "-inf", now)
    pipe.zrange(_room_key(room_id), 0, -1)
    owners = [_owner(entry) for entry in pipe.execute()[1]]
    member_ids = {owner for owner in owners if owner != ANONYMOUS}
    users = (
        get_user_model()
        .objects.filter(pk__in=member_ids, is_active=True)
        .only("pk", "username", "nickname", "profile_path")
        if member_ids
        else []
    )
    members = sorted(
        (
            {"id": user.pk, "nickname": user.display_name, "profile_path": user.profile_path}
            for user in users
        ),
        key=lambda member: (member["nickname"], member["id"]),
    )
    return {"members": members, "anonymous": owners.count(ANONYMOUS)}
