"""Redis clients for app state that is not the channel layer: rate limits, presence, wake-ups."""

from __future__ import annotations

import asyncio
import uuid
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.backoff import ExponentialBackoff

from .gathered import gathered


def _options(retry_class) -> dict:
    # A pooled connection that outlived a Redis restart fails its first command: reconnect and
    # retry (twice, quickly) instead of failing the caller. A Redis that is really down still
    # fails within seconds.
    return {
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
        "health_check_interval": 15,
        "retry": retry_class(ExponentialBackoff(cap=0.5, base=0.05), 2),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }


_sync_client: redis.Redis | None = None
# One async client per event loop: a connection pool cannot be shared across loops.
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_redis() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL, **_options(redis.retry.Retry))
    return _sync_client


# Connections of a web process's async client at most; a command waits for one as long as it
# would wait for Redis's answer. Unbounded, a crowd of sockets opening at once grew the pool by
# a connection per command in flight, each opened and introduced to Redis (redis-py reads its
# own package metadata for every new connection): ~4-5 % of the web process in a join storm.
ASYNC_POOL_SIZE = 32


def get_async_redis() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        options = _options(aioredis.retry.Retry)
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=ASYNC_POOL_SIZE,
            timeout=options["socket_timeout"],
            **options,
        )
        client = _async_clients[loop] = aioredis.Redis(connection_pool=pool)
    return client


async def _evals(calls: list[tuple]) -> list:
    async with get_async_redis().pipeline(transaction=False) as pipe:
        for script, numkeys, *args in calls:
            pipe.eval(script, numkeys, *args)
        return await pipe.execute(raise_on_error=False)


# ``await redis_eval((script, numkeys, *keys_and_args))``: the scripts of every socket of the
# process calling meanwhile go in one pipeline (zzalu.gathered). A crowd opening sockets took
# two round trips each (the socket's slot, its presence lease), every one of them waiting for a
# pooled connection; a beat of 2,000 sockets took 4,000.
redis_eval = gathered(_evals)


def key(*parts: object) -> str:
    """A namespaced key, so test runs and deployments sharing a Redis stay apart."""
    return ":".join([settings.REDIS_PREFIX, *map(str, parts)])


# Renew only if we still hold it: compare-and-expire must be atomic.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class Lease:
    """A lease in Redis that one process at a time holds (e.g. the active outbox sweeper)."""

    def __init__(self, name: str, ttl_seconds: float = 15.0):
        self.name = key("lease", name)
        self.token = uuid.uuid4().hex
        self.ttl_ms = int(ttl_seconds * 1000)

    def hold(self) -> bool:
        """Take the lease or extend it; False while another process holds it."""
        client = get_redis()
        if client.eval(_RENEW, 1, self.name, self.token, self.ttl_ms):
            return True
        return bool(client.set(self.name, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        client = get_redis()
        if client.get(self.name) == self.token.encode():
            client.delete(self.name)
