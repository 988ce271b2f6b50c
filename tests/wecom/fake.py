"""The local WeCom server for tests: known credentials and a context manager that runs a corp.

    with running_corp(staff=["sh01_staff1"], contacts_per_staff=5) as server:
        server.url, server.corp, server.events ...

Keyword arguments go to ``FakeCorp`` (seed, staff, staff_count, contacts_per_staff, shared_ratio,
token_ttl, welcome_ttl, transfer_delay, confirm_delay, confirm_share, daily_cap, …) except the
server's own: callback_url, limits, callback_timeout, callback_retries, callback_retry_delay, token,
aes_key. ``corp_id`` and ``secret`` default to the constants below.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from wecom.fake.corp import FakeCorp
from wecom.fake.server import RunningServer, start

CORP_ID = "wwtest0000siyu01"
SECRET = "test-corp-secret-0123456789"  # noqa: S105 - the local test corp's secret
TOKEN = "siyuTestToken"  # noqa: S105 - the local test corp's callback token
AES_KEY = "dGVzdHNpeXV3ZWNvbWFlc2tleTAxMjM0NTY3ODkwMTI"

SERVER_KWARGS = (
    "callback_url",
    "limits",
    "callback_timeout",
    "callback_retries",
    "callback_retry_delay",
    "token",
    "aes_key",
    "host",
    "port",
)


@contextlib.contextmanager
def running_corp(**kwargs) -> Iterator[RunningServer]:
    server_kwargs = {k: kwargs.pop(k) for k in SERVER_KWARGS if k in kwargs}
    server_kwargs.setdefault("token", TOKEN)
    server_kwargs.setdefault("aes_key", AES_KEY)
    kwargs.setdefault("corp_id", CORP_ID)
    kwargs.setdefault("secret", SECRET)
    server = start(FakeCorp(**kwargs), **server_kwargs)
    try:
        yield server
    finally:
        server.stop()
