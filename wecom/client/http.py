"""The WeCom server API client: httpx with timeouts and pooled connections, the shared access token,
the shared limiter, errcodes turned into error kinds, cursor pagination, and one INFO line per call
(path, errcode, elapsed ms; never a body, a parameter or the token)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import redis
from django.conf import settings
from django.utils import timezone

from wecom.client import errors
from wecom.client.limiter import Limiter
from wecom.client.tokens import TokenCache

logger = logging.getLogger("wecom.client")

REAL_API_BASE = "https://qyapi.weixin.qq.com"
# A page cap for pages(): bounded work per loop; the caller resumes from the last answer's cursor.
MAX_PAGES = 1000
# WeCom's minute block lasts 60 s (path/90454): the pause after a 45009; a concurrency limit (45033)
# clears as soon as calls in flight finish, so its pause is short.
WECOM_PAUSE_SECONDS = 60.0
CONCURRENCY_PAUSE_SECONDS = 5.0


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


class Client:
    """One corp's API client. Thread-safe; make one per process (``get_client()`` does)."""

    def __init__(
        self,
        *,
        api_base: str,
        corp_id: str,
        secret: str,
        redis_client: redis.Redis,
        key_prefix: str = "siyu",
        timeout: float = 10,
        per_minute: int = 9000,
        per_hour: int = 140000,
        max_sleep: float = 2.0,
        health=None,
    ):
        if not corp_id or not secret:
            raise errors.NotConfigured()
        self.api_base = api_base.rstrip("/")
        self.corp_id = corp_id
        self.mode = "corp" if self.api_base == REAL_API_BASE else "local"
        # Keys name the corp; the hash keeps two servers (or two secrets) of one corp id apart.
        digest = hashlib.sha256(f"{self.api_base}|{corp_id}|{secret}".encode()).hexdigest()[:12]
        base = f"{key_prefix}:wecom:{corp_id}:{digest}"
        self._secret = secret
        self.http = httpx.Client(
            base_url=f"{self.api_base}/cgi-bin/",
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            headers={"User-Agent": "siyu-wecom"},
        )
        self.tokens = TokenCache(redis_client, f"{base}:token", self._fetch_token, wait_seconds=timeout * 2)
        self.limiter = Limiter(
            redis_client, f"{base}:calls", per_minute=per_minute, per_hour=per_hour, max_sleep=max_sleep
        )
        self.health = health if health is not None else Health(redis_client, f"{base}:health", mode=self.mode)

    # --- the interface -----------------------------------------------------------------------
    def get(self, path: str, params: dict | None = None) -> dict:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict | None = None, params: dict | None = None) -> dict:
        return self._call("POST", path, params=params, body=body or {})

    def upload(self, path: str, *, params: dict | None = None, filename: str, content: bytes,
               content_type: str, field: str = "media") -> dict:
        """A multipart/form-data POST of one file (media/upload: the file's field is "media")."""
        return self._call("POST", path, params=params, files={field: (filename, content, content_type)})

    def pages(
        self,
        path: str,
        body: dict | None = None,
        *,
        cursor_field: str = "cursor",
        next_field: str = "next_cursor",
        method: str = "POST",
        max_pages: int = MAX_PAGES,
    ) -> Iterator[dict]:
        """Yield each page's whole answer, following ``next_field`` into ``cursor_field`` (in the body
        for POST, in the query for GET) until it is empty, repeats, or ``max_pages`` pages were read;
        after a cap the last answer's ``next_field`` is where to resume."""
        request = dict(body or {})
        seen: set[str] = set()
        for _ in range(max_pages):
            answer = self.post(path, request) if method == "POST" else self.get(path, request)
            yield answer
            cursor = answer.get(next_field) or ""
            if not cursor or cursor in seen:
                return
            seen.add(cursor)
            request[cursor_field] = cursor
        logger.warning("wecom pages %s stopped at the cap of %d pages", path, max_pages)

    def close(self) -> None:
        self.http.close()

    # --- one call ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
              files: dict | None = None) -> dict:
        path = path.strip("/")
        try:
            return self._call_once_refreshed(method, path, params=params, body=body, files=files)
        except redis.exceptions.RedisError:
            # The token cache and the budgets live in Redis: without it no call is made.
            logger.warning("wecom %s %s not called: Redis unavailable", method, path)
            raise errors.Unavailable(None, "Redis (token cache and call budgets) is unavailable", path) from None

    def _call_once_refreshed(self, method: str, path: str, *, params: dict | None, body: dict | None,
                             files: dict | None = None) -> dict:
        for attempt in (1, 2):
            token = self.tokens.get()
            answer = self._send(method, path, params={**(params or {}), "access_token": token}, body=body,
                                files=files)
            errcode = answer.get("errcode", 0)
            if errcode in errors.TOKEN_EXPIRED and attempt == 1:
                self.tokens.drop(token)
                continue
            break
        return self._settle(path, answer)

    def _settle(self, path: str, answer: dict) -> dict:
        errcode = answer.get("errcode", 0)
        if errcode == 0:
            self.health.ok()
            return answer
        pause = CONCURRENCY_PAUSE_SECONDS if errcode == 45033 else WECOM_PAUSE_SECONDS
        error = errors.from_answer(errcode, str(answer.get("errmsg", "")), path, retry_after=pause)
        if isinstance(error, errors.RateLimited):
            self.limiter.pause(path, pause)
            self.health.rate_limited(timezone.now() + timedelta(seconds=pause))
        self.health.error(errcode, path)
        raise error

    def _send(self, method: str, path: str, *, params: dict, body: dict | None, files: dict | None = None) -> dict:
        self.limiter.acquire(path)
        started = time.monotonic()
        errcode: object = "-"
        try:
            if files:
                response = self.http.request(method, path, params=params, files=files)
            else:
                response = self.http.request(method, path, params=params, json=body if method == "POST" else None)
            if response.status_code != 200:
                errcode = f"http{response.status_code}"
                raise errors.Unavailable(None, f"HTTP {response.status_code}", path)
            try:
                answer = response.json()
            except ValueError:
                errcode = "notjson"
                raise errors.Unavailable(None, "the answer is not JSON", path) from None
            if not isinstance(answer, dict):
                errcode = "notjson"
                raise errors.Unavailable(None, "the answer is not a JSON object", path)
            errcode = answer.get("errcode", 0)
            return answer
        except httpx.TimeoutException:
            errcode = "timeout"
            self.health.error(None, path)
            raise errors.Unavailable(None, "timed out", path) from None
        except httpx.HTTPError as exc:
            errcode = "network"
            self.health.error(None, path)
            raise errors.Unavailable(None, f"network error ({type(exc).__name__})", path) from None
        except errors.Unavailable:
            self.health.error(None, path)
            raise
        finally:
            elapsed = (time.monotonic() - started) * 1000
            logger.info("wecom %s %s errcode=%s elapsed_ms=%.0f", method, path, errcode, elapsed)

    def _fetch_token(self) -> tuple[str, int]:
        answer = self._send("GET", "gettoken", params={"corpid": self.corp_id, "corpsecret": self._secret}, body=None)
        errcode = answer.get("errcode", 0)
        if errcode != 0 or not answer.get("access_token"):
            error = errors.from_answer(errcode or -1, str(answer.get("errmsg", "")), "gettoken")
            if isinstance(error, errors.RateLimited):
                self.health.rate_limited(timezone.now() + timedelta(seconds=WECOM_PAUSE_SECONDS))
            self.health.error(errcode, "gettoken")
            raise error
        self.health.token_fetched()
        return answer["access_token"], int(answer.get("expires_in") or 7200)


class Health:
    """Keeps ConnectionState current without a database write per call: an OK call is written at
    most once per ``interval`` seconds across all workers (a Redis SET NX), an error at most once per
    interval per errcode and path; token fetches and rate-limit pauses, rare by nature, always."""

    def __init__(self, redis_client: redis.Redis, key: str, *, mode: str, interval: float = 30.0):
        self.redis = redis_client
        self.key = key
        self.mode = mode
        self.interval = interval

    def _due(self, what: str) -> bool:
        return bool(self.redis.set(f"{self.key}:{what}", "1", nx=True, px=max(int(self.interval * 1000), 1)))

    def _write(self, **fields) -> None:
        from django.db import DatabaseError

        from wecom.services import connection

        try:
            connection.record_health(mode=self.mode, **fields)
        except DatabaseError:
            # Health is advisory: a failed write never fails the call it describes.
            logger.warning("wecom health not recorded", exc_info=True)

    def ok(self) -> None:
        if self._due("ok"):
            self._write(last_ok_at=timezone.now())

    def error(self, errcode: int | None, path: str) -> None:
        if self._due(f"error:{errcode}:{path}"):
            self._write(last_error_at=timezone.now(), last_errcode=errcode, last_error_path=path[:80])

    def token_fetched(self) -> None:
        self._write(token_fetched_at=timezone.now())

    def rate_limited(self, until) -> None:
        self._write(rate_limited_until=until)


_clients: dict[tuple, Client] = {}
_clients_lock = threading.Lock()


def _signature() -> tuple:
    return (
        os.getpid(),
        settings.WECOM_API_BASE,
        settings.WECOM_CORP_ID,
        settings.WECOM_SECRET,
        settings.WECOM_TIMEOUT_SECONDS,
        settings.WECOM_CALLS_PER_MINUTE,
        settings.WECOM_CALLS_PER_HOUR,
        settings.REDIS_URL,
        settings.CACHES["default"].get("KEY_PREFIX", ""),
    )


def get_client() -> Client:
    """The client for the configured corp, one per process (a new one after a fork or when the
    WECOM_* settings change); NotConfigured without a corp id and secret."""
    if not settings.WECOM_CORP_ID or not settings.WECOM_SECRET:
        raise errors.NotConfigured()
    signature = _signature()
    client = _clients.get(signature)
    if client is not None:
        return client
    with _clients_lock:
        if signature not in _clients:
            for stale in _clients.values():
                stale.close()
            _clients.clear()
            _clients[signature] = Client(
                api_base=settings.WECOM_API_BASE,
                corp_id=settings.WECOM_CORP_ID,
                secret=settings.WECOM_SECRET,
                redis_client=_redis(settings.REDIS_URL),
                key_prefix=signature[-1] or "siyu",
                timeout=settings.WECOM_TIMEOUT_SECONDS,
                per_minute=settings.WECOM_CALLS_PER_MINUTE,
                per_hour=settings.WECOM_CALLS_PER_HOUR,
            )
        return _clients[signature]
