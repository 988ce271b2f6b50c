"""The access token, cached in Redis and shared by every worker and host.

One caller refreshes under a Redis lock while the others wait for its token (no stampede when a
token expires under load); a token WeCom refuses is dropped by compare-and-delete, so a late caller
holding the old token never deletes the fresh one another caller just stored. Free of Django, so a
plain process can use it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

from wecom.client import errors

logger = logging.getLogger("wecom.client")

# Stored for a little less than WeCom's expires_in (7200 s), so a token is never used in its last minutes.
EXPIRY_MARGIN_SECONDS = 300
LOCK_TIMEOUT_SECONDS = 30

_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TokenCache:
    """``get()`` the current token (fetching one if none is cached); ``drop(token)`` a refused one.

    ``fetch`` calls WeCom's gettoken and returns ``(access_token, expires_in)``; it runs at most once
    at a time across all processes sharing ``key``.
    """

    def __init__(
        self, client: redis.Redis, key: str, fetch: Callable[[], tuple[str, int]], *, wait_seconds: float = 20.0
    ):
        self.redis = client
        self.key = key
        self.fetch = fetch
        self.wait_seconds = wait_seconds
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL)

    def get(self) -> str:
        return self.cached() or self._refresh()

    def cached(self) -> str | None:
        token = self.redis.get(self.key)
        return token.decode() if token else None

    def drop(self, token: str) -> bool:
        """Forget ``token`` if it is still the cached one; True when it was."""
        return bool(self._delete_if_equal(keys=[self.key], args=[token]))

    def _refresh(self) -> str:
        lock = self.redis.lock(
            f"{self.key}:lock", timeout=LOCK_TIMEOUT_SECONDS, sleep=0.05, blocking_timeout=self.wait_seconds
        )
        if not lock.acquire():
            raise errors.Unavailable(None, "timed out waiting for another worker's token refresh", "gettoken")
        try:
            # Whoever held the lock before us may have stored a fresh token: use it.
            token = self.redis.get(self.key)
            if token:
                return token.decode()
            token, expires_in = self.fetch()
            ttl = max(int(expires_in) - EXPIRY_MARGIN_SECONDS, 60)
            self.redis.set(self.key, token, ex=ttl)
            return token
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                logger.warning("wecom token lock expired before release")
