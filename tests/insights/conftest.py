from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.orders.models import Order


@pytest.fixture
def buy(store_a):
    counter = {"n": 0}

    def make(member=None, *, days_ago=1, total="100.00", refunded="0", store=None, staff=None, currency="CNY"):
        counter["n"] += 1
        return Order.objects.create(
            channel="pos",
            external_id=f"R{counter['n']:06d}",
            member=member,
            store=store or store_a,
            staff=staff,
            total_amount=Decimal(total),
            refunded_amount=Decimal(refunded),
            currency=currency,
            placed_at=timezone.now() - timedelta(days=days_ago, minutes=counter["n"]),
            buyer_channel="" if member else "tmall",
            buyer_external_id="" if member else f"tb{counter['n']}",
        )

    return make
