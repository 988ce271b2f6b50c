"""Demo data of referrals and insights: believable and idempotent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from insights import demo as insights_demo
from insights.models import MemberRFM
from loyalty.orders.models import Order
from loyalty.referrals import demo
from loyalty.referrals.models import Commission, CommissionRule, ReferralCode
from members.models import Member


def test_demo_seed_is_idempotent(store_a):
    people = [Member.objects.create(name=f"会员{i}", home_store=store_a) for i in range(40)]
    Order.objects.bulk_create(
        [
            Order(
                channel="pos",
                external_id=f"D{i}",
                member=people[i % 39],
                store=store_a,
                total_amount=Decimal("158.00"),
                placed_at=timezone.now() - timedelta(days=i % 60),
            )
            for i in range(400)
        ]
    )
    first = demo.seed()
    assert ReferralCode.objects.count() == 40 and CommissionRule.objects.count() == 3
    made = Commission.objects.count()
    assert 5 <= made <= 40, first
    assert Commission.objects.filter(status="payable").exists()
    assert demo.seed().endswith(f"0 referred orders, {made} commissions")
    assert ReferralCode.objects.count() == 40 and Commission.objects.count() == made
    assert "RFM for 39 members" in insights_demo.seed()
    insights_demo.seed()
    assert MemberRFM.objects.count() == 39
