"""Redemption oldest lot first, concurrent redemptions that must not overspend, stock and limits,
cancellation, manual adjustments, expiry and the policy's validation."""

from __future__ import annotations

import datetime
import itertools
import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections
from django.utils import timezone

from loyalty.points import services
from loyalty.points.errors import InsufficientPoints, RewardUnavailable
from loyalty.points.models import EntryKind, MemberPoints, PointEntry, PointLot, PointsPolicy, Redemption, Reward
from scrm.errors import Forbidden, InvalidInput, ServiceError
from tests.helpers import wait_for
from tests.loyalty.points.conftest import balance, lots_total

NOW = timezone.now()


def _lot(member, points, *, days_left=None, earned_days_ago=10):
    """A lot made the way an adjustment makes it, with a chosen expiry."""
    lot = PointLot.objects.create(
        member=member,
        source="adjustment",
        points=points,
        remaining=points,
        reason="test",
        earned_at=NOW - datetime.timedelta(days=earned_days_ago),
        expires_at=None if days_left is None else NOW + datetime.timedelta(days=days_left),
    )
    row, _created = MemberPoints.objects.get_or_create(member=member)
    row.balance += points
    row.earned_total += points
    row.save()
    return lot


@pytest.fixture
def gift(db):
    return Reward.objects.create(name="黑巧礼盒", kind="gift", points_cost=300, stock=5)


def test_redeem_spends_the_soonest_to_expire_first(policy, members, gift, carol):
    member = members[0][0]
    never = _lot(member, 500)
    late = _lot(member, 200, days_left=200)
    soon = _lot(member, 150, days_left=20, earned_days_ago=1)
    redemption = services.redeem(member=member, reward=gift, actor=carol)
    soon.refresh_from_db(), late.refresh_from_db(), never.refresh_from_db()
    assert (soon.remaining, late.remaining, never.remaining) == (0, 50, 500)
    entry = PointEntry.objects.get(redemption=redemption)
    assert entry.delta == -300 and entry.balance_after == 550 and entry.lots == [[soon.pk, 150], [late.pk, 150]]
    assert entry.explanation == "Redeemed 黑巧礼盒 (Gift): 300 pts" and entry.actor == carol
    assert balance(member) == 550 == lots_total(member)
    gift.refresh_from_db()
    assert gift.stock == 4
    assert redemption.store == carol.store


def test_redemption_over_the_balance_changes_nothing(policy, members, gift, carol):
    member = members[0][0]
    _lot(member, 299)
    with pytest.raises(InsufficientPoints) as exc:
        services.redeem(member=member, reward=gift, actor=carol)
    assert "needs 300 pts; the balance is 299 pts" in exc.value.message
    assert exc.value.details == {"points": ["Needs 300, has 299."]}
    gift.refresh_from_db()
    assert gift.stock == 5 and balance(member) == 299 and not Redemption.objects.exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"is_active": False}, "reward_inactive"),
        ({"stock": 0}, "out_of_stock"),
        ({"ends_at": NOW - datetime.timedelta(days=1)}, "reward_not_in_window"),
        ({"starts_at": NOW + datetime.timedelta(days=1)}, "reward_not_in_window"),
        ({"min_tier_rank": 3}, "tier_too_low"),
    ],
)
def test_unavailable_rewards_are_refused(policy, members, gift, carol, change, code):
    member = members[0][0]
    _lot(member, 1000)
    Reward.objects.filter(pk=gift.pk).update(**change)
    with pytest.raises(RewardUnavailable) as exc:
        services.redeem(member=member, reward=gift, actor=carol)
    assert exc.value.code == code and exc.value.details["reward"]
    assert balance(member) == 1000 and not Redemption.objects.exists()


def test_per_member_limit_counts_redemptions_not_cancelled(policy, members, gift, carol):
    member = members[0][0]
    _lot(member, 2000)
    gift.per_member_limit = 1
    gift.save()
    first = services.redeem(member=member, reward=gift, actor=carol)
    with pytest.raises(RewardUnavailable) as exc:
        services.redeem(member=member, reward=gift, actor=carol)
    assert exc.value.code == "limit_reached"
    services.cancel_redemption(redemption=first, actor=carol, reason="wrong box")
    services.redeem(member=member, reward=gift, actor=carol)
    assert balance(member) == 1700


def test_cancel_returns_points_to_their_lots_and_stock(policy, members, gift, carol):
    member = members[0][0]
    soon = _lot(member, 100, days_left=10)
    late = _lot(member, 400, days_left=300)
    redemption = services.redeem(member=member, reward=gift, actor=carol)
    services.cancel_redemption(redemption=redemption, actor=carol, reason="customer changed mind")
    soon.refresh_from_db(), late.refresh_from_db(), gift.refresh_from_db()
    assert (soon.remaining, late.remaining, gift.stock) == (100, 400, 5)
    assert balance(member) == 500
    entry = PointEntry.objects.get(kind=EntryKind.REDEMPTION_CANCELLED)
    assert entry.delta == 300 and entry.balance_after == 500 and "customer changed mind" in entry.explanation
    with pytest.raises(ServiceError) as exc:
        services.cancel_redemption(redemption=redemption, actor=carol)
    assert exc.value.code == "already_cancelled"
    assert balance(member) == 500


def test_cancel_after_a_lot_expired_expires_those_points_again(policy, members, gift, carol):
    member = members[0][0]
    soon = _lot(member, 300, days_left=1)
    _lot(member, 100, days_left=300)
    redemption = services.redeem(member=member, reward=gift, actor=carol)
    PointLot.objects.filter(pk=soon.pk).update(expires_at=NOW - datetime.timedelta(minutes=1))
    services.cancel_redemption(redemption=redemption, actor=carol)
    soon.refresh_from_db()
    assert soon.remaining == 0 and soon.expired == 300
    assert balance(member) == 100 == lots_total(member)


def _in_threads(count, target):
    barrier = threading.Barrier(count)
    results: list = []

    def run():
        close_old_connections()
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # noqa: BLE001 - the test counts what each thread got
            results.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_never_overspend(members, carol):
    PointsPolicy.objects.create(pk=1)
    member = members[0][0]
    _lot(member, 1000)
    reward = Reward.objects.create(name="Coupon ¥10", kind="coupon", points_cost=300)
    results = _in_threads(8, lambda: services.redeem(member=member, reward=reward, actor=carol))
    done = [r for r in results if isinstance(r, Redemption)]
    refused = [r for r in results if isinstance(r, InsufficientPoints)]
    assert (len(done), len(refused)) == (3, 5), results
    assert balance(member) == 100 == lots_total(member)
    assert Redemption.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_never_oversell_stock(members, carol):
    PointsPolicy.objects.create(pk=1)
    buyers = members[0]
    for member in buyers:
        _lot(member, 1000)
    reward = Reward.objects.create(name="限量新品尝鲜", kind="early_access", points_cost=100, stock=2)

    turns = itertools.count()

    def redeem_for():
        return services.redeem(member=buyers[next(turns) % 3], reward=reward, actor=carol)

    results = _in_threads(6, redeem_for)
    done = [r for r in results if isinstance(r, Redemption)]
    assert len(done) == 2, results
    assert all(isinstance(r, RewardUnavailable) and r.code == "out_of_stock" for r in results if r not in done)
    reward.refresh_from_db()
    assert reward.stock == 0
    assert sum(balance(m) for m in buyers) == 2800


def test_adjustments_by_operators_only_with_a_reason(policy, members, alice, carol):
    member = members[0][0]
    entry = services.adjust_points(member=member, points="200", reason="compensation for late delivery", actor=alice)
    assert entry.delta == 200 and entry.explanation == "Adjusted by +200 pts: compensation for late delivery"
    assert PointLot.objects.get(member=member).expires_at is not None
    with pytest.raises(Forbidden):
        services.adjust_points(member=member, points=10, reason="x", actor=carol)
    with pytest.raises(InvalidInput) as exc:
        services.adjust_points(member=member, points="abc", reason="", actor=alice)
    assert set(exc.value.details) == {"points", "reason"}
    with pytest.raises(InsufficientPoints):
        services.adjust_points(member=member, points=-201, reason="too many", actor=alice)
    services.adjust_points(member=member, points=-50, reason="correction", actor=alice)
    assert balance(member) == 150 == lots_total(member)


def test_expiry_is_set_based_and_keeps_balances_consistent(policy, members):
    a, b = members[0][0], members[1][0]
    _lot(a, 120, days_left=-1)
    _lot(a, 80, days_left=-2)
    keep = _lot(a, 50, days_left=30)
    _lot(b, 200, days_left=-1)
    assert services.expire_due_points() == 400
    assert (balance(a), balance(b)) == (50, 0)
    assert lots_total(a) == 50 and lots_total(b) == 0
    entry = PointEntry.objects.get(member=a, kind=EntryKind.EXPIRE)
    assert entry.delta == -200 and entry.balance_after == 50 and len(entry.lots) == 2
    assert entry.explanation.startswith("200 pts expired (2 lot(s), valid until ")
    assert MemberPoints.objects.get(pk=a.pk).expired_total == 200
    keep.refresh_from_db()
    assert keep.remaining == 50
    assert services.expire_due_points() == 0  # nothing left to do


def test_expiry_in_small_batches(policy, members):
    for member in members[0] + members[1]:
        _lot(member, 10, days_left=-1)
    assert services.expire_due_points(batch_members=2) == 50
    assert PointEntry.objects.filter(kind=EntryKind.EXPIRE).count() == 5


@pytest.mark.django_db(transaction=True)
def test_expire_points_task_runs_on_a_real_worker(points_worker, members):
    from loyalty.points.tasks import expire_points

    PointsPolicy.objects.create(pk=1)
    member = members[0][0]
    _lot(member, 40, days_left=-1)
    expire_points.delay()
    assert wait_for(lambda: balance(member) == 0)
    assert PointEntry.objects.filter(kind=EntryKind.EXPIRE).count() == 1


def test_policy_validation_is_all_or_nothing(policy, alice, carol, settings):
    settings.SIYU_CURRENCIES = ["CNY", "HKD"]
    with pytest.raises(InvalidInput) as exc:
        services.update_policy(
            actor=alice,
            values={
                "points_per_unit": "2",
                "tier_multipliers": {"gold": 2},
                "currency_rates": {"USD": 7},
                "expiry_mode": "sometimes",
                "birthday_multiplier": "0.5",
                "bogus": 1,
            },
        )
    assert set(exc.value.details) == {"bogus"}
    with pytest.raises(InvalidInput) as exc:
        services.update_policy(
            actor=alice,
            values={
                "points_per_unit": "2",
                "tier_multipliers": {"gold": 2},
                "currency_rates": {"USD": 7},
                "expiry_mode": "sometimes",
                "birthday_multiplier": "0.5",
            },
        )
    assert set(exc.value.details) == {"tier_multipliers", "currency_rates", "expiry_mode", "birthday_multiplier"}
    assert PointsPolicy.current().points_per_unit == Decimal("1")
    saved = services.update_policy(
        actor=alice,
        values={
            "points_per_unit": "2",
            "tier_multipliers": {"4": "1.5"},
            "category_multipliers": {"Milk Powder": 2},
            "currency_rates": {"HKD": "0.9"},
        },
    )
    assert saved.points_per_unit == Decimal("2") and saved.tier_multipliers == {"4": 1.5}
    assert saved.category_multipliers == {"milk powder": 2.0}
    with pytest.raises(Forbidden):
        services.update_policy(actor=carol, values={"enabled": False})


def test_period_end_and_after_days_expiry():
    policy = PointsPolicy(expiry_mode="period_end", expiry_years=1)
    earned = timezone.make_aware(datetime.datetime(2025, 3, 5, 12))
    assert timezone.localtime(policy.expires_at(earned)) == timezone.make_aware(datetime.datetime(2027, 1, 1))
    policy = PointsPolicy(expiry_mode="after_days", expiry_days=90)
    assert policy.expires_at(earned) == earned + datetime.timedelta(days=90)
    assert PointsPolicy(expiry_mode="never").expires_at(earned) is None


def test_rewards_are_checked_before_saving(alice, carol, db):
    with pytest.raises(InvalidInput) as exc:
        services.save_reward(
            actor=alice,
            values={
                "name": "",
                "points_cost": 0,
                "stock": -1,
                "starts_at": NOW,
                "ends_at": NOW - datetime.timedelta(days=1),
            },
        )
    assert {"name", "points_cost", "stock", "ends_at"} <= set(exc.value.details)
    assert not Reward.objects.exists()
    reward = services.save_reward(actor=alice, values={"name": "满299减30券", "kind": "coupon", "points_cost": 500})
    with pytest.raises(Forbidden):
        services.save_reward(actor=carol, values={"points_cost": 1}, reward=reward)
