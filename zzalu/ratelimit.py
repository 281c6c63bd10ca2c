"""A token bucket per member, kept in Redis so every server process shares it."""

from __future__ import annotations

from django.conf import settings

from .redis import get_async_redis, key

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
