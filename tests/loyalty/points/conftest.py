"""Fixtures of the points tests: a policy, orders made directly on the model (the orders services
are tested in tests/loyalty/orders), and a helper that runs the orders hook's work synchronously."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

_numbers = itertools.count(1)


@pytest.fixture
def policy(db):
    from loyalty.points.models import PointsPolicy

    return PointsPolicy.objects.create(pk=1, points_per_unit=Decimal("1"), expiry_mode="period_end", expiry_years=1)


@pytest.fixture
def make_order(db):
    """make_order(member, "399.00", lines=[("milk powder", "200.00"), ...], placed_at=..., number=...)."""
    from loyalty.orders.models import Order, OrderLine

    def make(
        member,
        amount,
        *,
        lines=(),
        placed_at=None,
        number=None,
        currency="CNY",
        channel="tmall",
        refunded="0",
        store=None,
    ):
        order = Order.objects.create(
            channel=channel,
            external_id=number or f"TM-{next(_numbers)}",
            member=member,
            store=store or (member.home_store if member else None),
            currency=currency,
            total_amount=Decimal(amount),
            refunded_amount=Decimal(refunded),
            placed_at=placed_at or timezone.now() - datetime.timedelta(hours=1),
        )
        OrderLine.objects.bulk_create(
            [
                OrderLine(order=order, name=category or "item", category=category, amount=Decimal(line_amount))
                for category, line_amount in lines
            ]
        )
        return order

    return make


@pytest.fixture
def sync():
    """Earn / take back for orders now, as the task queued by the orders hook would."""
    from loyalty.points import services

    def run(*orders, members=()):
        return services.sync_orders(order_ids=[o.pk for o in orders], member_ids=[m.pk for m in members])

    return run


def balance(member) -> int:
    from loyalty.points.models import MemberPoints

    row = MemberPoints.objects.filter(pk=member.pk).first()
    return row.balance if row else 0


def lots_total(member) -> int:
    from django.db.models import Sum

    from loyalty.points.models import PointLot

    return PointLot.objects.filter(member=member).aggregate(n=Sum("remaining"))["n"] or 0


@pytest.fixture
def points_worker(celery_worker):
    """The shared real worker (tests/conftest.py), under the name the points tests use."""
    return celery_worker
