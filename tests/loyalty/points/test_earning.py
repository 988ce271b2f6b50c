"""Earning on orders: the formula and its explanation, multipliers, idempotency, refunds taking
points back, pending buyers, orders moving between members, and the hook → Celery path."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from loyalty.points.models import EntryKind, PointEntry, PointLot
from tests.helpers import wait_for
from tests.loyalty.points.conftest import balance, lots_total


def _tier(member, rank, name):
    try:
        ladder_model = apps.get_model("tiers", "TierLadder")
        level_model = apps.get_model("tiers", "TierLevel")
        member_tier = apps.get_model("tiers", "MemberTier")
    except LookupError:
        pytest.skip("the tiers app has no models yet")
    ladder, _created = ladder_model.objects.get_or_create(pk=1)
    level = level_model.objects.create(ladder=ladder, rank=rank, name=name, threshold=Decimal(rank * 1000))
    member_tier.objects.create(member=member, level=level, earned_level=level)
    return level


def test_order_earns_points_with_an_explanation(policy, members, make_order, sync):
    member = members[0][0]
    order = make_order(member, "399.00", number="TM-123")
    result = sync(order)
    assert (result.lots_created, result.points_earned) == (1, 399)
    assert balance(member) == 399
    entry = PointEntry.objects.get(member=member)
    assert entry.kind == EntryKind.EARN and entry.delta == 399 and entry.balance_after == 399
    assert entry.explanation == "Order TM-123: ¥399.00 × 1 pt/¥ = 399 pts"
    lot = PointLot.objects.get(member=member)
    assert entry.lots == [[lot.pk, 399]]
    # Period end: earned this year, valid through 31 Dec next year.
    year = timezone.localtime(order.placed_at).year
    assert timezone.localtime(lot.expires_at).date() == datetime.date(year + 2, 1, 1)


def test_tier_category_and_birthday_multipliers(policy, members, make_order, sync):
    member = members[0][0]
    _tier(member, 4, "Coco Gold")
    placed = timezone.now() - datetime.timedelta(hours=1)
    member.birthday = datetime.date(1990, timezone.localtime(placed).month, 1)
    member.save()
    policy.tier_multipliers = {"4": 1.5}
    policy.category_multipliers = {"milk powder": 2}
    policy.birthday_multiplier = Decimal("2")
    policy.save()
    order = make_order(
        member, "300.00", lines=[("Milk powder", "200.00"), ("toys", "100.00")], number="TM-9", placed_at=placed
    )
    sync(order)
    # (200 × 2 + 100) × 1 × 1.5 × 2 = 1500
    entry = PointEntry.objects.get(member=member)
    assert entry.delta == 1500
    assert entry.explanation == (
        "Order TM-9: ¥300.00 → ¥500.00 (Milk powder ×2) × 1 pt/¥ × 1.5 (Coco Gold) × 2 (birthday month) = 1500 pts"
    )


def test_floor_and_rate(policy, members, make_order, sync):
    member = members[0][0]
    policy.points_per_unit = Decimal("0.5")
    policy.save()
    sync(make_order(member, "99.99"))
    assert balance(member) == 49


def test_an_order_earns_once(policy, members, make_order, sync):
    member = members[0][0]
    order = make_order(member, "120.00")
    sync(order)
    again = sync(order)
    assert again.lots_created == 0
    assert balance(member) == 120
    assert PointLot.objects.filter(order=order).count() == 1
    assert PointEntry.objects.filter(member=member).count() == 1


def test_unknown_currency_zero_amount_and_disabled_policy_earn_nothing(policy, members, make_order, sync):
    member = members[0][0]
    sync(make_order(member, "100.00", currency="USD"), make_order(member, "0.00"))
    assert balance(member) == 0
    policy.enabled = False
    policy.save()
    sync(make_order(member, "100.00"))
    assert balance(member) == 0 and not PointEntry.objects.exists()


def test_other_brand_currency_counts_at_its_rate(policy, members, make_order, sync, settings):
    settings.SIYU_CURRENCIES = ["CNY", "HKD"]
    policy.currency_rates = {"HKD": 0.9}
    policy.save()
    member = members[0][0]
    sync(make_order(member, "100.00", currency="HKD", number="HK-1"))
    entry = PointEntry.objects.get(member=member)
    assert entry.delta == 90
    assert entry.explanation == "Order HK-1: HK$100.00 × 1 pt/¥ × 0.9 (HKD) = 90 pts"


def test_partial_refund_takes_back_in_proportion(policy, members, make_order, sync):
    member = members[0][0]
    order = make_order(member, "400.00", number="TM-5")
    sync(order)
    order.refunded_amount = Decimal("100.00")
    order.status = "partially_refunded"
    order.save()
    sync(order)
    assert balance(member) == 300 == lots_total(member)
    claw = PointEntry.objects.get(kind=EntryKind.CLAWBACK)
    assert claw.delta == -100 and claw.unrecovered == 0 and claw.balance_after == 300
    assert "TM-5" in claw.explanation
    sync(order)  # a redelivered task takes nothing more
    assert balance(member) == 300
    order.refunded_amount = Decimal("400.00")
    order.save()
    sync(order)
    assert balance(member) == 0
    assert PointLot.objects.get(order=order).clawed_back == 400


def test_refund_of_spent_points_never_goes_below_zero(policy, members, make_order, sync, alice):
    from loyalty.points import services

    member = members[0][0]
    order = make_order(member, "500.00", number="TM-7")
    sync(order)
    services.adjust_points(member=member, points=-450, reason="gift given by hand", actor=alice)
    order.refunded_amount = Decimal("500.00")
    order.save()
    sync(order)
    assert balance(member) == 0 == lots_total(member)
    claw = PointEntry.objects.get(kind=EntryKind.CLAWBACK)
    assert claw.delta == -50 and claw.unrecovered == 450
    assert "450 pts could not be taken back" in claw.explanation


def test_pending_buyer_earns_when_linked(policy, members, make_order, sync):
    member = members[0][0]
    order = make_order(None, "88.00", store=member.home_store)
    sync(order)
    assert not PointLot.objects.exists()
    order.member = member
    order.save()
    sync(order, members=[member])
    assert balance(member) == 88


def test_order_moved_to_another_member_takes_its_points(policy, members, make_order, sync):
    first, second = members[0][0], members[0][1]
    order = make_order(first, "200.00")
    sync(order)
    order.member = second
    order.save()
    result = sync(order, members=[first, second])
    assert result.lots_moved == 1
    assert (balance(first), balance(second)) == (0, 200)
    kinds = set(PointEntry.objects.values_list("kind", flat=True))
    assert {EntryKind.TRANSFER_OUT, EntryKind.TRANSFER_IN} <= kinds


def test_merged_duplicate_points_go_to_the_survivor(policy, members, make_order, sync, alice):
    from loyalty.points import services

    survivor, duplicate = members[0][0], members[0][1]
    services.adjust_points(member=duplicate, points=70, reason="welcome", actor=alice)
    duplicate.merged_into = survivor
    duplicate.save()
    sync(members=[duplicate, survivor])
    assert (balance(duplicate), balance(survivor)) == (0, 70)
    assert lots_total(survivor) == 70


def test_many_orders_in_one_batch(policy, members, make_order, sync):
    member = members[0][0]
    orders = [make_order(member, f"{10 + i}.00") for i in range(30)]
    result = sync(*orders)
    assert result.lots_created == 30
    total = sum(10 + i for i in range(30))
    assert balance(member) == total
    # balance_after runs in order through the batch
    afters = list(PointEntry.objects.filter(member=member).order_by("id").values_list("balance_after", flat=True))
    assert afters[-1] == total and afters == sorted(afters)


@pytest.mark.django_db(transaction=True)
def test_orders_hook_queues_the_task_and_a_real_worker_earns(points_worker, stores, carol):
    from loyalty.orders import hooks
    from loyalty.orders.models import Order
    from loyalty.points.models import PointsPolicy
    from members.models import Member

    PointsPolicy.objects.create(pk=1)
    member = Member.objects.create(name="王", home_store=stores[0])
    from django.db import transaction

    with transaction.atomic():
        order = Order.objects.create(
            channel="pos",
            external_id="POS-1",
            member=member,
            store=stores[0],
            total_amount=Decimal("66.00"),
            placed_at=timezone.now(),
        )
        hooks.orders_changed(order_ids=[order.pk], member_ids=[member.pk])
    assert wait_for(lambda: PointLot.objects.filter(order=order).exists())
    assert balance(member) == 66
