"""The overview page shows the last 30 days' sales, within the user's stores."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.orders.models import Order

pytestmark = pytest.mark.django_db


def test_overview_shows_30_day_sales_scoped_to_the_store(client, alice, bob, members, store_a, store_b):
    (a0, _a1, _a2), (b0, _b1) = members
    now = timezone.now()
    for number, member, store, amount, days in [
        ("A1", a0, store_a, "120.00", 2), ("A2", a0, store_a, "80.00", 5), ("B1", b0, store_b, "1000.00", 1),
        ("OLD", a0, store_a, "999.00", 45),
    ]:
        Order.objects.create(channel="pos", external_id=number, member=member, store=store,
                             total_amount=Decimal(amount), placed_at=now - timedelta(days=days))

    client.force_login(alice)
    html = client.get(reverse("home")).content.decode()
    assert 'data-testid="overview-sales"' in html
    assert 'data-testid="overview-gmv">1,200<' in html

    client.force_login(bob)
    html = client.get(reverse("home")).content.decode()
    assert 'data-testid="overview-gmv">200<' in html


def test_a_guide_sees_the_sales_credited_to_them_on_the_phone(client, carol, dave, members, store_a):
    (a0, a1, _a2), _ = members
    now = timezone.now()
    month_start = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = [
        ("C1", carol, "300.00", 1), ("C2", carol, "200.00", 20), ("C3", carol, "999.00", 40), ("D1", dave, "50.00", 1),
    ]
    for number, guide, amount, days in rows:
        Order.objects.create(channel="pos", external_id=number, member=a0, store=store_a, staff=guide,
                             total_amount=Decimal(amount), placed_at=now - timedelta(days=days, minutes=1))
    in_month = Order.objects.filter(staff=carol, placed_at__gte=month_start)
    client.force_login(carol)
    html = client.get(reverse("mobile-home")).content.decode()
    assert 'data-testid="my-sales"' in html
    assert f'data-testid="my-month-orders">{in_month.count()}<' in html
    # the last 30 days: C1 + C2, not C3 (40 days ago) nor dave's D1
    assert 'data-testid="my-30d-gmv">500<' in html
