"""Points changes write points.earned / points.redeemed / points.expired in the change's transaction:
earning on orders (one INSERT ... SELECT per batch), redemption and its cancellation, adjustments,
refunds and expiry (set-based per batch). Nothing happened, nothing written; a refused change, none."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from loyalty.points import services
from loyalty.points.errors import InsufficientPoints
from loyalty.points.models import PointEntry, PointLot, Reward
from scrm.models import Event

pytestmark = pytest.mark.django_db


def logged():
    return [(e.type, e.member_id, e.store_id, e.data) for e in Event.objects.filter(type__startswith="points.")
            .order_by("id")]


def test_orders_earn_one_event_per_order_and_a_rerun_none(policy, members, make_order, sync):
    (a0, a1, _a2), (b0, _b1) = members
    orders = [make_order(a0, "100.00"), make_order(a1, "250.00"), make_order(b0, "80.00")]
    sync(*orders)
    assert logged() == [
        ("points.earned", o.member_id, o.member.home_store_id,
         {"points": points, "balance": points, "reason": "order", "kind": "earn", "order": {"id": o.pk}})
        for o, points in sorted(zip(orders, (100, 250, 80), strict=True), key=lambda pair: pair[0].member_id)
    ]
    sync(*orders)
    assert len(logged()) == 3


def test_redeem_cancel_and_adjust(policy, members, make_order, sync, carol, alice):
    member = members[0][0]
    sync(make_order(member, "500.00"))
    gift = Reward.objects.create(name="黑巧礼盒", kind="gift", points_cost=300, stock=5)
    Event.objects.all().delete()
    redemption = services.redeem(member=member, reward=gift, actor=carol)
    services.cancel_redemption(redemption=redemption, actor=alice, reason="changed mind")
    services.adjust_points(member=member, points=-50, reason="goodwill correction", actor=alice)
    found = [(t, d["points"], d["balance"], d["kind"]) for t, _m, _s, d in logged()]
    assert found == [("points.redeemed", 300, 200, "redeem"), ("points.earned", 300, 500, "redemption_cancelled"),
                     ("points.redeemed", 50, 450, "adjust")]
    assert logged()[0][3]["redemption"] == {"id": redemption.pk}
    assert {s for _t, _m, s, _d in logged()} == {member.home_store_id}


def test_a_refused_redemption_leaves_no_event(policy, members, carol):
    gift = Reward.objects.create(name="礼盒", kind="gift", points_cost=300, stock=5)
    with pytest.raises(InsufficientPoints):
        services.redeem(member=members[0][0], reward=gift, actor=carol)
    assert logged() == []


def test_a_refund_takes_points_back(policy, members, make_order, sync):
    member = members[0][0]
    order = make_order(member, "400.00")
    sync(order)
    order.refunded_amount = order.total_amount
    order.save()
    sync(order)
    assert logged()[-1][0] == "points.redeemed"
    assert logged()[-1][3] == {"points": 400, "balance": 0, "reason": "refund", "kind": "clawback",
                               "order": {"id": order.pk}}


def test_expiry_is_one_event_per_member_set_based(policy, members, alice):
    past = timezone.now() - datetime.timedelta(days=1)
    (a0, a1, _a2), _b = members
    for member, points in ((a0, 100), (a0, 20), (a1, 70)):
        PointLot.objects.create(member=member, source="adjustment", points=points, remaining=points, reason="t",
                                earned_at=past - datetime.timedelta(days=30), expires_at=past)
    from loyalty.points.models import MemberPoints

    MemberPoints.objects.create(member=a0, balance=120, earned_total=120)
    MemberPoints.objects.create(member=a1, balance=70, earned_total=70)
    assert services.expire_due_points() == 190
    assert sorted((m, d["points"], d["balance"]) for t, m, _s, d in logged() if t == "points.expired") == [
        (a0.pk, 120, 0), (a1.pk, 70, 0)]
    assert services.expire_due_points() == 0
    assert len(logged()) == 2
    assert PointEntry.objects.filter(kind="expire").count() == 2
