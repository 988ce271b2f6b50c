"""recalculate_tiers: levels by net spend over the window, floors, downgrade policies, history,
merged and erased members, pending buyers, other currencies and concurrent runs."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.tiers import services
from loyalty.tiers.models import ChangeReason, MemberTier, TierChange, TierLadder
from members.models import Member

from .conftest import place

pytestmark = pytest.mark.django_db


def level_of(member):
    tier = MemberTier.objects.filter(member=member).select_related("level").first()
    return tier.level.name if tier and tier.level else None


def test_levels_by_net_spend_in_window(ladder, members):
    (a0, a1, a2), (b0, b1) = members
    place(a0, 600)
    place(a0, 500, refunded=200)  # net 900: still below 1000
    place(a1, 800)
    place(a1, 300, days_ago=400)  # outside the window
    place(a2, 3000)
    place(a2, 2500)  # 5500
    place(b0, 1000)  # exactly on the threshold
    place(None, 90000)  # buyer not yet known: nobody's
    result = services.recalculate_tiers()
    assert [level_of(m) for m in (a0, a1, a2, b0, b1)] == ["可可小白", "可可小白", "可可大师", "可可达人", "可可小白"]
    assert MemberTier.objects.get(member=a0).qualifying_value == Decimal("900.00")
    assert result.members_written == 5 and result.upgrades == 5 and result.downgrades == 0
    change = TierChange.objects.get(member=a2)
    assert (change.from_name, change.to_name, change.reason, change.to_rank) == ("", "可可大师", "nightly", 3)
    again = services.recalculate_tiers()  # nothing moved: nothing written, no history
    assert again.members_written == 0 and TierChange.objects.count() == 5


def test_other_currencies_are_left_out(ladder, members, settings):
    settings.SIYU_CURRENCIES = ["CNY", "HKD"]
    member = members[0][0]
    place(member, 900)
    place(member, 5000, currency="HKD")
    services.recalculate_tiers(member_ids=[member.pk])
    assert MemberTier.objects.get(member=member).qualifying_value == Decimal("900.00")


def test_only_the_members_asked_for(ladder, members):
    (a0, a1, _a2), _b = members
    place(a0, 2000)
    place(a1, 2000)
    services.recalculate_tiers(member_ids=[a0.pk], reason=ChangeReason.ORDER)
    assert level_of(a0) == "可可达人" and level_of(a1) is None
    assert TierChange.objects.get(member=a0).reason == "order"


def test_merged_and_erased_members_are_skipped(ladder, members):
    (a0, a1, a2), _b = members
    for member in (a0, a1, a2):
        place(member, 2000)
    Member.objects.filter(pk=a1.pk).update(merged_into=a0)
    Member.objects.filter(pk=a2.pk).update(erased_at=timezone.now())
    services.recalculate_tiers()
    assert level_of(a0) == "可可达人" and level_of(a1) is None and level_of(a2) is None


def test_immediate_downgrade_after_refund_is_recorded_as_refund(ladder, members):
    member = members[0][0]
    order = place(member, 1500)
    services.recalculate_tiers(member_ids=[member.pk], reason=ChangeReason.ORDER)
    assert level_of(member) == "可可达人"
    order.refunded_amount = Decimal("1000")
    order.save()
    result = services.recalculate_tiers(member_ids=[member.pk], reason=ChangeReason.ORDER)
    assert result.downgrades == 1 and level_of(member) == "可可小白"
    change = TierChange.objects.filter(member=member).first()
    assert (change.from_name, change.to_name, change.reason) == ("可可达人", "可可小白", "refund")


def test_window_slides_nightly(ladder, members):
    member = members[0][0]
    place(member, 1500, days_ago=360)
    services.recalculate_tiers()
    assert level_of(member) == "可可达人"
    services.recalculate_tiers(now=timezone.now() + datetime.timedelta(days=10))
    assert level_of(member) == "可可小白"


def test_grace_period_holds_the_level_then_expires(alice, ladder, members):
    services.save_ladder(actor=alice, data={"downgrade_policy": "grace", "grace_days": 30}, partial=True)
    member = members[0][0]
    place(member, 1500, days_ago=360)
    services.recalculate_tiers()
    later = timezone.now() + datetime.timedelta(days=10)
    services.recalculate_tiers(now=later)  # spend fell out of the window: held up for 30 days
    tier = MemberTier.objects.select_related("level", "earned_level").get(member=member)
    assert tier.level.name == "可可达人" and tier.earned_level.name == "可可小白"
    assert tier.downgrade_due == later + datetime.timedelta(days=30)
    services.recalculate_tiers(now=later + datetime.timedelta(days=29))
    assert level_of(member) == "可可达人"
    services.recalculate_tiers(now=later + datetime.timedelta(days=31))
    assert level_of(member) == "可可小白"
    change = TierChange.objects.filter(member=member).first()
    assert change.reason == "grace_expired"
    assert MemberTier.objects.get(member=member).downgrade_due is None


def test_grace_is_cancelled_when_spend_recovers(alice, ladder, members):
    services.save_ladder(actor=alice, data={"downgrade_policy": "grace", "grace_days": 30}, partial=True)
    member = members[0][0]
    place(member, 1500, days_ago=360)
    services.recalculate_tiers()
    later = timezone.now() + datetime.timedelta(days=10)
    services.recalculate_tiers(now=later)
    assert MemberTier.objects.get(member=member).downgrade_due is not None
    place(member, 1200, days_ago=0)
    services.recalculate_tiers(now=later, member_ids=[member.pk], reason=ChangeReason.ORDER)
    tier = MemberTier.objects.get(member=member)
    assert tier.downgrade_due is None and level_of(member) == "可可达人"


def test_period_end_policy(alice, ladder, members):
    services.save_ladder(
        actor=alice, data={"downgrade_policy": "period_end", "period_end_month": 12, "period_end_day": 31}, partial=True
    )
    member = members[0][0]
    place(member, 1500, days_ago=360)
    services.recalculate_tiers()
    later = timezone.now() + datetime.timedelta(days=10)
    services.recalculate_tiers(now=later)
    due = MemberTier.objects.get(member=member).downgrade_due
    local = timezone.localtime(due)
    assert (local.month, local.day, local.hour) == (1, 1, 0) and due > later
    assert level_of(member) == "可可达人"
    services.recalculate_tiers(now=due + datetime.timedelta(minutes=1))
    assert level_of(member) == "可可小白"
    assert TierChange.objects.filter(member=member).first().reason == "period_end"


def test_next_period_end_with_a_month_day():
    now = timezone.make_aware(datetime.datetime(2026, 7, 1, 12))
    assert timezone.localtime(services.next_period_end(now, 6, 30)).date() == datetime.date(2027, 7, 1)
    assert timezone.localtime(services.next_period_end(now, 7, 1)).date() == datetime.date(2026, 7, 2)


def test_never_policy_only_raises(alice, ladder, members):
    services.save_ladder(actor=alice, data={"downgrade_policy": "never"}, partial=True)
    member = members[0][0]
    place(member, 1500, days_ago=360)
    services.recalculate_tiers()
    services.recalculate_tiers(now=timezone.now() + datetime.timedelta(days=10))
    assert level_of(member) == "可可达人"


def test_floor_by_an_operator_and_by_the_store_manager(ladder, levels, members, alice, bob):
    member = members[0][0]
    place(member, 100)
    services.recalculate_tiers()
    services.set_floor(member=member, level_id=levels[2].pk, reason="转会员 VIP", actor=alice)
    assert level_of(member) == "可可大师"
    change = TierChange.objects.filter(member=member).first()
    assert (change.reason, change.to_name, change.note, change.changed_by) == ("floor", "可可大师", "转会员 VIP", alice)
    # A floor at or below the earned level still shows in the history.
    services.set_floor(member=member, level_id=levels[0].pk, reason="降回", actor=bob)
    assert level_of(member) == "可可小白"
    services.set_floor(member=member, level_id=levels[0].pk, reason="again", actor=bob)
    assert TierChange.objects.filter(member=member, reason="floor").count() == 3
    services.set_floor(member=member, level_id=None, reason="", actor=alice)  # cleared
    assert MemberTier.objects.get(member=member).floor_level is None


def test_floor_refusals(ladder, levels, members, carol, dave, bob):
    from scrm.errors import Forbidden, InvalidInput

    member_a, member_b = members[0][0], members[1][0]
    with pytest.raises(Forbidden):
        services.set_floor(member=member_a, level_id=levels[1].pk, reason="x", actor=carol)  # a clerk
    with pytest.raises(Forbidden):
        services.set_floor(member=member_b, level_id=levels[1].pk, reason="x", actor=bob)  # another store
    with pytest.raises(InvalidInput) as caught:
        services.set_floor(member=member_a, level_id=999999, reason="", actor=bob)
    assert set(caught.value.details) == {"level"}
    with pytest.raises(InvalidInput) as caught:
        services.set_floor(member=member_a, level_id=levels[1].pk, reason=" ", actor=bob)
    assert set(caught.value.details) == {"reason"}
    assert not MemberTier.objects.exists() and not TierChange.objects.exists()


def test_ladder_change_regrades_everyone(alice, ladder, levels, members):
    member = members[0][0]
    place(member, 1500)
    services.recalculate_tiers()
    services.save_ladder(
        actor=alice,
        data={
            "levels": [
                {"id": levels[0].pk, "rank": 1, "name": "可可小白", "threshold": "0"},
                {"id": levels[1].pk, "rank": 2, "name": "可可达人", "threshold": "2000"},
                {"id": levels[2].pk, "rank": 3, "name": "可可大师", "threshold": "5000"},
            ]
        },
        partial=True,
    )
    services.recalculate_tiers(reason=ChangeReason.POLICY, actor=alice)
    assert level_of(member) == "可可小白"
    change = TierChange.objects.filter(member=member).first()
    assert change.reason == "policy" and change.changed_by == alice


def test_no_ladder_or_unknown_basis_does_nothing(members):
    place(members[0][0], 5000)
    assert services.recalculate_tiers() == services.RecalcResult()
    TierLadder.objects.create(pk=1, basis="points")
    assert services.recalculate_tiers() == services.RecalcResult()


@pytest.mark.django_db(transaction=True)
def test_concurrent_recalculations_record_each_move_once(alice, members):
    from .conftest import LEVELS

    services.save_ladder(actor=alice, data={"levels": LEVELS})
    (a0, a1, a2), (b0, b1) = members
    for member in (a0, a1, a2, b0, b1):
        place(member, 6000)
    barrier = threading.Barrier(4)
    errors = []

    def run():
        try:
            barrier.wait()
            services.recalculate_tiers()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert TierChange.objects.count() == 5 and MemberTier.objects.count() == 5
