"""Fixtures of the orders tests."""

from __future__ import annotations

import pytest

from loyalty.orders import hooks


@pytest.fixture
def changed():
    """The orders_changed calls, as callbacks see them after commit."""
    calls = []

    def record(order_ids, member_ids):
        calls.append((order_ids, member_ids))

    hooks.on_orders_changed(record)
    yield calls
    hooks._CALLBACKS.remove(record)
