"""Redis clients for app state that is not the channel layer: rate limits, presence, wake-ups."""

from __future__ import annotations

import asyncio
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings

_sync_client: redis.Redis | None = None
# One async client per event loop: a connection pool cannot be shared across loops.
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_redis() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, health_check_interval=15
        )
    return _sync_client


def get_async_redis() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, health_check_interval=15
        )
        _async_clients[loop] = client
    return client


def key(*parts: object) -> str:
    """A namespaced key, so test runs and deployments sharing a Redis stay apart."""
    return ":".join([settings.REDIS_PREFIX, *map(str, parts)])
