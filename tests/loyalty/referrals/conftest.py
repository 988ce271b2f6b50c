"""Orders and rules for referral tests: orders are created directly (the orders services are not
what is tested here) and the hook is called by hand where a test wants it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.orders.models import Order, OrderLine
from loyalty.referrals.models import CommissionRule, ReferralCode


@pytest.fixture
def codes(members):
    (a0, a1, a2), (b0, b1) = members
    made = {m.pk: ReferralCode.objects.create(member=m, code=f"CODE{i}A2B") for i, m in enumerate([a0, a1, a2, b0, b1])}
    return made


@pytest.fixture
def any_rule(db):
    return CommissionRule.objects.create(name="Any 5%", rate=Decimal("5"), return_window_days=7)


@pytest.fixture
def make_order(store_a):
    counter = {"n": 0}

    def make(
        *,
        member=None,
        code="",
        total="200.00",
        channel="miniprogram",
        store=None,
        placed_at=None,
        lines=None,
        refunded="0",
        **extra,
    ):
        counter["n"] += 1
        order = Order.objects.create(
            channel=channel,
            external_id=f"T{counter['n']:05d}",
            member=member,
            store=store or store_a,
            referral_code=code,
            total_amount=Decimal(total),
            refunded_amount=Decimal(refunded),
            placed_at=placed_at or timezone.now() - timedelta(hours=1),
            **extra,
        )
        for category, amount in lines or []:
            OrderLine.objects.create(order=order, name=category, category=category, amount=Decimal(amount))
        return order

    return make
