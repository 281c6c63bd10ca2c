"""Limits kept in Redis, so every server process shares them: a token bucket per member
(message rates) and leased slots per member or address (concurrent sockets)."""

from __future__ import annotations

from django.conf import settings

from .redis import get_async_redis, key, redis_eval

# KEYS[1] bucket; ARGV: rate per second, burst. Returns 1 if a token was taken. The clock is
# Redis's own, so web servers on different hosts agree on it.
_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return allowed
"""


async def take_token(bucket: str, *, rate: float | None = None, burst: int | None = None) -> bool:
    """True if the caller may proceed now; False if the bucket is empty."""
    rate = settings.CHAT_RATE_PER_SEC if rate is None else rate
    burst = settings.CHAT_RATE_BURST if burst is None else burst
    client = get_async_redis()
    allowed = await client.eval(_TAKE_TOKEN, 1, key("rate", bucket), rate, burst)
    return bool(allowed)


# --- concurrent sockets -------------------------------------------------------------------------

# KEYS[1] a holder's open sockets: a sorted set of socket -> lease end (ms, Redis's clock).
# ARGV: socket, cap (negative: renew without a cap), lease ms. Returns 1 if the socket holds a
# slot. Expired leases (a server that crashed) are dropped before counting.
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if cap >= 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1])
   and redis.call('ZCARD', KEYS[1]) >= cap then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


def _slots_key(holder: str) -> str:
    return key("sockets", holder)


def _lease_ms() -> int:
    return int(settings.PRESENCE_TTL_SECONDS * 1000)


async def socket_slot_take(holder: str, socket_id: str, *, cap: int) -> bool:
    """Hold one of ``holder``'s ``cap`` concurrent socket slots; False when all are taken.

    A slot is a lease: the socket renews it every heartbeat and gives it back on close, and a
    slot whose server died frees itself after PRESENCE_TTL_SECONDS.
    """
    taken = await redis_eval((_TAKE_SLOT, 1, _slots_key(holder), socket_id, cap, _lease_ms()))
    return bool(taken)


async def socket_slot_renew(holder: str, socket_id: str) -> None:
    """Renew an open socket's lease (never refused: an open socket is not closed for it)."""
    await redis_eval((_TAKE_SLOT, 1, _slots_key(holder), socket_id, -1, _lease_ms()))


async def socket_slot_release(holder: str, socket_id: str) -> None:
    await get_async_redis().zrem(_slots_key(holder), socket_id)
