"""Call budgets per corp per API path, shared across workers and hosts through Redis.

Fixed windows of a minute and an hour counted on Redis's clock (one clock for every host). A path
WeCom answered 45009 / 45033 for is paused for everyone until its pause ends. Free of Django, so a
plain process can use it.
"""

from __future__ import annotations

import time

import redis

from wecom.client import errors

# Returns 0 when a call was admitted (and counted), else the seconds until one may be.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return tostring(pause / 1000) end
local minute = math.floor(now / 60)
local hour = math.floor(now / 3600)
local mk = KEYS[1] .. ':m:' .. minute
local hk = KEYS[1] .. ':h:' .. hour
if tonumber(redis.call('GET', mk) or '0') >= tonumber(ARGV[1]) then
  return tostring((minute + 1) * 60 - now)
end
if tonumber(redis.call('GET', hk) or '0') >= tonumber(ARGV[2]) then
  return tostring((hour + 1) * 3600 - now)
end
redis.call('INCR', mk)
redis.call('EXPIRE', mk, 120)
redis.call('INCR', hk)
redis.call('EXPIRE', hk, 7200)
return '0'
"""


class Limiter:
    """``acquire(path)`` before each call: returns when the call fits the budgets, sleeping through
    waits up to ``max_sleep`` seconds; raises RateLimited with ``retry_after`` for longer ones."""

    def __init__(self, client: redis.Redis, key: str, *, per_minute: int, per_hour: int, max_sleep: float = 2.0):
        self.redis = client
        self.key = key
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.max_sleep = max_sleep
        self._acquire = client.register_script(_ACQUIRE)

    def _keys(self, path: str) -> list[str]:
        return [f"{self.key}:{path}", f"{self.key}:{path}:paused"]

    def try_acquire(self, path: str) -> float:
        """Count one call if it fits: 0.0, else the seconds to wait (nothing counted)."""
        return float(self._acquire(keys=self._keys(path), args=[self.per_minute, self.per_hour]))

    def acquire(self, path: str) -> None:
        slept = 0.0
        while True:
            wait = self.try_acquire(path)
            if wait <= 0:
                return
            if slept + wait > self.max_sleep:
                raise errors.RateLimited(
                    None, "the connector's call budget for this API is spent", path, retry_after=wait
                )
            time.sleep(wait)
            slept += wait

    def pause(self, path: str, seconds: float) -> None:
        """Hold every caller of ``path`` for ``seconds`` (WeCom said 45009 / 45033)."""
        self.redis.set(self._keys(path)[1], "1", px=max(int(seconds * 1000), 1))
