"""Send rates per channel shared by every worker and host, and the receipts of sends a provider
cannot be asked about later, both in Redis.

The rate is a token bucket per channel code on Redis's clock (one clock for every host): `rate`
tokens a second, one saved up at most. A provider's 429 pauses the bucket for everyone until its
Retry-After ends, and a provider that is down (or refuses our key) pauses it a while too; a paused
channel's batch_size is 0, so the engine claims nothing for it (each claim spends one of a
delivery's attempts) instead of churning through a campaign it cannot send. WeCom's limiter
(wecom.client.limiter) counts calls in windows of a minute and an hour, which would let a minute's
budget out in one burst: a provider that counts per second needs the bucket.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# Takes one token when there is one: '0'; else the seconds until there is (nothing taken). Numbers go
# back as strings: Redis truncates a Lua number to an integer.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return tostring(pause / 1000) end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(saved[1]) or burst
local at = tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(now - at, 0) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""

_clients: dict[tuple, redis.Redis] = {}
_clients_lock = threading.Lock()


def redis_client() -> redis.Redis:
    """One client per process (a new one after a fork or when REDIS_URL changes)."""
    signature = (os.getpid(), settings.REDIS_URL)
    client = _clients.get(signature)
    if client is None:
        with _clients_lock:
            client = _clients.get(signature)
            if client is None:
                _clients.clear()
                client = _clients[signature] = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5
                )
    return client


def _prefix(code: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX') or 'siyu'}:channel:{code}"


class RateLimited(Exception):
    """The channel's budget is spent for longer than a send may wait: retry after `retry_after` s."""

    def __init__(self, retry_after: float):
        super().__init__(f"rate limit: the channel's budget is spent for {retry_after:.1f} s")
        self.retry_after = retry_after


class Bucket:
    """`take()` before each message: returns once the message fits the channel's rate, sleeping
    through waits up to `max_wait` seconds (the pace of a batch), else raises RateLimited."""

    def __init__(self, code: str, *, rate: float, max_wait: float | None = None, client: redis.Redis | None = None):
        self.rate = float(rate)
        # One token saved up at most: sends are spread evenly, so any one second holds at most
        # rate + 1 of them (a provider that counts per second sees the rate, not a burst).
        self.burst = 1.0
        self.max_wait = max_wait if max_wait is not None else max(1.0, 2.0 / self.rate)
        self.redis = client or redis_client()
        base = _prefix(code)
        self.keys = [f"{base}:rate", f"{base}:paused"]
        self._take = self.redis.register_script(_TAKE)

    def try_take(self) -> float:
        """Take a token if there is one: 0.0, else the seconds until there is one (nothing taken)."""
        return float(self._take(keys=self.keys, args=[self.rate, self.burst]))

    def take(self) -> None:
        slept = 0.0  # other workers may take the token we waited for: the wait is bounded in all
        while True:
            wait = self.try_take()
            if wait <= 0:
                return
            if slept + wait > self.max_wait:
                raise RateLimited(wait)
            time.sleep(wait)
            slept += wait

    def pause(self, seconds: float) -> None:
        """Hold every sender of this channel for `seconds` (the provider answered 429, or is down)."""
        self.redis.set(self.keys[1], "1", px=max(int(seconds * 1000), 1))

    def paused_for(self) -> float:
        """Seconds the channel is still paused (0.0 when it is not)."""
        return max(self.redis.pttl(self.keys[1]), 0) / 1000


def batch_size(code: str, rate: float) -> int:
    """A channel's deliveries per send call: about a second's worth at its rate, and none while it
    is paused, so the engine claims nothing it would only put back (each claim is an attempt)."""
    size = max(1, min(int(rate), 500))
    try:
        return 0 if Bucket(code, rate=rate).paused_for() > 0 else size
    except redis.RedisError:
        return size  # the send's own take() will say


class Receipts:
    """What a provider with no look-up (SMTP, a webhook receiver) took, by delivery key, kept for
    `ttl` seconds: written as soon as the provider answers, read by `settle` for a delivery whose
    worker died before its answer reached the database. Past the ttl (or with Redis emptied) a
    settle finds nothing and the delivery is sent again under the same key (Message-ID,
    Idempotency-Key), so the receiving end can tell the repeat."""

    def __init__(self, code: str, *, ttl: int = 6 * 3600, client: redis.Redis | None = None):
        self.redis = client or redis_client()
        self.base = f"{_prefix(code)}:sent:"
        self.ttl = ttl

    def record(self, key: str, provider_message_id: str) -> None:
        try:
            self.redis.set(self.base + key, provider_message_id or "-", ex=self.ttl)
        except redis.RedisError as exc:  # the send happened; only a later settle knows less
            logger.warning("channel receipts: could not record %s: %s", key, exc)

    def find(self, keys: list[str]) -> dict[str, str]:
        """{key: provider message id} of the keys a provider took (none when Redis cannot say)."""
        if not keys:
            return {}
        try:
            values = self.redis.mget([self.base + key for key in keys])
        except redis.RedisError as exc:
            logger.warning("channel receipts: could not read %d keys: %s", len(keys), exc)
            return {}
        return {key: value.decode() for key, value in zip(keys, values, strict=True) if value is not None}


def retry_after(headers) -> float:
    """The seconds a provider's Retry-After header asks for (0.1 to 300; 1 when absent or not a number
    of seconds)."""
    try:
        return min(max(float(headers.get("Retry-After", "1")), 0.1), 300.0)
    except ValueError:
        return 1.0
