"""Fixtures for tiers: a three-level ladder and a helper that places orders (as plain rows: the
orders services are not what is tested here)."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.orders.models import Order
from loyalty.tiers import services

_NUMBERS = itertools.count(1)

LEVELS = [
    {"rank": 1, "name": "可可小白", "threshold": "0", "benefits": "生日礼"},
    {"rank": 2, "name": "可可达人", "threshold": "1000", "benefits": "9.5折"},
    {"rank": 3, "name": "可可大师", "threshold": "5000", "benefits": "9折 + 新品优先购", "colour": "#5b3a29"},
]


@pytest.fixture
def ladder(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no broker round trip for set-up
        return services.save_ladder(actor=alice, data={"name": "诺梵会员", "window_days": 365, "levels": LEVELS})


@pytest.fixture
def levels(ladder):
    return list(ladder.levels.order_by("rank"))


def place(member, amount, *, days_ago=1, refunded=0, currency="CNY", channel="pos", store=None):
    """One order for `member` (None: a buyer not yet known) placed `days_ago` days ago."""
    return Order.objects.create(
        channel=channel,
        external_id=f"T{next(_NUMBERS)}",
        member=member,
        store=store or getattr(member, "home_store", None),
        currency=currency,
        total_amount=Decimal(str(amount)),
        refunded_amount=Decimal(str(refunded)),
        status="paid" if not refunded else ("refunded" if refunded == amount else "partially_refunded"),
        placed_at=timezone.now() - datetime.timedelta(days=days_ago),
    )
