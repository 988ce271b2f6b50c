"""The call budget is one budget for every worker and host: counted in Redis, per corp per API path,
per minute and per hour; short waits are slept through, longer ones raise RateLimited."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
import redis
from django.conf import settings

from wecom.client import errors
from wecom.client.http import Client
from wecom.client.limiter import Limiter


def _admitted(url: str, key: str, attempts: int, start) -> int:
    """In another process: how many of ``attempts`` calls the shared limiter admits."""
    limiter = Limiter(redis.Redis.from_url(url), key, per_minute=10**6, per_hour=30, max_sleep=0)
    start.wait(10)
    return sum(1 for _ in range(attempts) if limiter.try_acquire("externalcontact/get") == 0)


def _key() -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:wecom:test-{uuid.uuid4().hex[:8]}:calls"


def test_two_processes_share_one_budget():
    key = _key()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(2) as pool:
            results = [pool.apply_async(_admitted, (settings.REDIS_URL, key, 40, start)) for _ in range(2)]
            time.sleep(0.5)
            start.set()
            counts = [r.get(60) for r in results]
    assert sum(counts) == 30, counts
    assert all(count > 0 for count in counts) or max(counts) == 30


def test_budgets_are_per_path_and_a_short_pause_is_slept_through():
    limiter = Limiter(redis.Redis.from_url(settings.REDIS_URL), _key(), per_minute=2, per_hour=100, max_sleep=2.0)
    limiter.try_acquire("a")
    limiter.try_acquire("a")
    assert limiter.try_acquire("a") > 0  # spent for this minute
    assert limiter.try_acquire("b") == 0  # another API has its own budget
    limiter.pause("b", 0.3)
    started = time.monotonic()
    limiter.acquire("b")
    assert 0.2 < time.monotonic() - started < 1.5


def test_a_long_wait_raises_rate_limited_with_retry_after():
    limiter = Limiter(redis.Redis.from_url(settings.REDIS_URL), _key(), per_minute=10, per_hour=100, max_sleep=2.0)
    limiter.pause("a", 30)
    with pytest.raises(errors.RateLimited) as caught:
        limiter.acquire("a")
    assert 25 < caught.value.retry_after <= 30
    assert caught.value.errcode is None and caught.value.path == "a"


@pytest.mark.django_db
def test_two_clients_of_one_corp_share_the_budget(corp):
    def client():
        return Client(
            api_base=settings.WECOM_API_BASE,
            corp_id=settings.WECOM_CORP_ID,
            secret=settings.WECOM_SECRET,
            redis_client=redis.Redis.from_url(settings.REDIS_URL),
            key_prefix=settings.CACHES["default"]["KEY_PREFIX"],
            per_minute=10**6,
            per_hour=3,
            max_sleep=0,
        )

    one, two = client(), client()
    one.get("externalcontact/get_follow_user_list")
    two.get("externalcontact/get_follow_user_list")
    one.get("externalcontact/get_follow_user_list")
    with pytest.raises(errors.RateLimited) as caught:
        two.get("externalcontact/get_follow_user_list")
    assert caught.value.retry_after > 0
    # Both share one token too: one gettoken for the corp.
    assert one.tokens.cached() == two.tokens.cached()
