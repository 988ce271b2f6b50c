"""Demo orders: believable, skewed, with categories, refunds and pending buyers; a rerun adds nothing."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from loyalty.orders import demo
from loyalty.orders.models import Order, OrderLine, Refund
from members import demo as members_demo
from scrm import demo as scrm_demo


def test_demo_orders_are_skewed_and_idempotent(db, monkeypatch):
    scrm_demo.seed(password="pw-demo")
    members_demo.seed(members=300)
    summary = demo.seed()
    assert "added" in summary
    counts = Order.objects.count(), OrderLine.objects.count(), Refund.objects.count()
    assert 200 < counts[0] < 1500 and counts[1] > counts[0] and counts[2] > 0
    per_member = list(
        Order.objects.filter(member__isnull=False).values("member").annotate(n=Count("id")).values_list("n", flat=True)
    )
    assert max(per_member) >= 8 and sorted(per_member)[len(per_member) // 2] <= 3
    pending = Order.objects.filter(member__isnull=True)
    assert pending.exists() and set(pending.values_list("channel", flat=True)) == {"tmall"}
    assert OrderLine.objects.exclude(category="").count() == counts[1]
    # every order's lines add up to its total; refunds never exceed what was paid
    for order in Order.objects.annotate(lines_sum=Sum("lines__amount"))[:200]:
        assert order.lines_sum == order.total_amount
    assert not Order.objects.filter(refunded_amount__gt=0, status="paid").exists()
    assert demo.seed().startswith("orders: 0 added")
    assert (Order.objects.count(), OrderLine.objects.count(), Refund.objects.count()) == counts
    later = timezone.now() + timedelta(days=1, hours=5)
    monkeypatch.setattr(demo.timezone, "now", lambda: later)
    assert demo.seed().startswith("orders: 0 added")  # a rerun on another day finds the same orders
