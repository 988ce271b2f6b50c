"""Small helpers shared by tests."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 20.0) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False): for work done
    by a real Celery worker in another thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
