"""Fixtures of the WeCom connector's tests: a local WeCom server (wecom.fake, through
tests/wecom/fake.py) with the WECOM_* settings pointed at it.

The client's Redis keys (token cache, refresh lock, limiter budgets) live under the cache's key
prefix, which the root conftest makes unique per test run and empties before every test, and they
include the API base, so two servers in one test never share a token or a budget.
"""

from __future__ import annotations

import contextlib

import pytest


def _credential(server, name: str, default: str) -> str:
    return getattr(server, name.lower(), None) or default


@pytest.fixture
def make_corp(settings):
    """Start a local WeCom server with the given FakeCorp / server keyword arguments and point the
    settings at it; returns the running server (``.url``, ``.corp``, ``.stop()``). Call it again for
    a second corp; the last one started is the configured one. All are stopped at the test's end."""
    from tests.wecom import fake

    with contextlib.ExitStack() as stack:

        def make(**kwargs):
            server = stack.enter_context(fake.running_corp(**kwargs))
            settings.WECOM_API_BASE = server.url.rstrip("/")
            settings.WECOM_CORP_ID = _credential(server, "CORP_ID", fake.CORP_ID)
            settings.WECOM_SECRET = _credential(server, "SECRET", fake.SECRET)
            settings.WECOM_TOKEN = _credential(server, "TOKEN", fake.TOKEN)
            settings.WECOM_AES_KEY = _credential(server, "AES_KEY", fake.AES_KEY)
            return server

        yield make


@pytest.fixture
def corp(make_corp):
    """A local WeCom server with its default corp, the settings pointed at it."""
    return make_corp()


@pytest.fixture
def no_wecom(settings):
    """No WeCom corp configured at all."""
    settings.WECOM_API_BASE = "https://qyapi.weixin.qq.com"
    for name in ("WECOM_CORP_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY"):
        setattr(settings, name, "")
