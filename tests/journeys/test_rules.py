"""The daily rules: each picks exactly the right members in the brand's time zone (Asia/Shanghai), never
erased, merged or unconsented ones, gives the task to the owner or the pool, and a re-run creates
nothing new."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.models import Campaign, WecomMassTask
from journeys.models import RepurchaseCycle, Task, TaskPolicy
from journeys.services import rules
from loyalty.orders.models import Order, OrderLine
from members.models import Consent, Member
from tests.journeys.conftest import allow

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 12, 3)


def _member(store, owner, name, **fields):
    member = Member.objects.create(name=name, home_store=store, owner=owner, **fields)
    allow(member)
    return member


def _order(member, placed: dt.datetime, category="奶粉", number=[0]):  # noqa: B006 - a counter
    number[0] += 1
    order = Order.objects.create(channel="pos", external_id=f"T{number[0]}", member=member, store=member.home_store,
                                 total_amount=Decimal("100"), placed_at=placed)
    OrderLine.objects.create(order=order, name="goods", category=category, amount=Decimal("100"))
    return order


def _kinds(kind):
    return {t.member_id: t for t in Task.objects.filter(kind=kind)}


def test_birthdays_today_and_feb_29_in_common_years(store_a, carol):
    today_born = _member(store_a, carol, "王女士", birthday=dt.date(1990, 12, 3))
    _member(store_a, carol, "Tomorrow", birthday=dt.date(1990, 12, 4))
    erased = _member(store_a, carol, "Erased", birthday=dt.date(1990, 12, 3))
    Member.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    merged = _member(store_a, carol, "Merged", birthday=dt.date(1990, 12, 3))
    Member.objects.filter(pk=merged.pk).update(merged_into=today_born)
    silent = _member(store_a, carol, "No consent", birthday=dt.date(1990, 12, 3))
    Consent.objects.filter(member=silent).update(granted=False)
    assert rules.birthdays(today=TODAY) == 1
    task = _kinds("birthday")[today_born.pk]
    assert task.assignee_id == carol.pk and task.priority == 1 and task.dedupe_key == f"birthday:2026:{today_born.pk}"
    assert timezone.localtime(task.due_at).date() == TODAY
    assert rules.birthdays(today=TODAY) == 0  # a re-run creates nothing

    leap = _member(store_a, carol, "Leap", birthday=dt.date(1992, 2, 29))
    assert rules.birthdays(today=dt.date(2027, 2, 28)) == 1
    assert leap.pk in _kinds("birthday")
    assert rules.birthdays(today=dt.date(2028, 2, 28)) == 0  # a leap year: the 29th comes
    assert rules.birthdays(today=dt.date(2028, 2, 29)) == 1


def test_welcome_counts_yesterday_in_the_brands_time_zone(store_a, carol):
    late = _member(store_a, carol, "Joined 23:30 Shanghai",
                   created_at=dt.datetime(2026, 12, 2, 23, 30, tzinfo=SHANGHAI))
    _member(store_a, carol, "Joined 00:30 Shanghai today", created_at=dt.datetime(2026, 12, 3, 0, 30, tzinfo=SHANGHAI))
    early = _member(store_a, carol, "Joined 00:10", created_at=dt.datetime(2026, 12, 2, 0, 10, tzinfo=SHANGHAI))
    _member(store_a, carol, "Two days ago", created_at=dt.datetime(2026, 12, 1, 23, 59, tzinfo=SHANGHAI))
    assert rules.welcomes(today=TODAY) == 2
    assert set(_kinds("welcome")) == {late.pk, early.pk}
    assert rules.welcomes(today=TODAY) == 0


def test_repurchase_due_by_category_cycle(store_a, carol, dave):
    RepurchaseCycle.objects.create(category="奶粉", days=30)
    at = dt.datetime(2026, 11, 3, 10, tzinfo=SHANGHAI)  # 30 days before TODAY
    due = _member(store_a, carol, "Due")
    _order(due, at)
    bought_again = _member(store_a, carol, "Bought again")
    _order(bought_again, at)
    _order(bought_again, dt.datetime(2026, 11, 25, 10, tzinfo=SHANGHAI), category="纸尿裤")
    too_soon = _member(store_a, carol, "Too soon")
    _order(too_soon, dt.datetime(2026, 11, 13, 10, tzinfo=SHANGHAI))
    other_category = _member(store_a, carol, "Other category")
    _order(other_category, at, category="玩具")
    missed_run = _member(store_a, carol, "33 days")
    _order(missed_run, dt.datetime(2026, 10, 31, 22, tzinfo=SHANGHAI))
    long_gone = _member(store_a, carol, "Two months")
    _order(long_gone, dt.datetime(2026, 10, 1, 10, tzinfo=SHANGHAI))
    assert rules.repurchases(today=TODAY) == 2
    found = _kinds("repurchase_due")
    assert set(found) == {due.pk, missed_run.pk}
    assert found[due.pk].params == {"category": "奶粉", "days": 30}
    assert "奶粉" in found[due.pk].title_text
    assert rules.repurchases(today=TODAY) == 0


def test_dormant_after_the_policys_days(store_a, carol):
    policy = TaskPolicy.current()
    policy.dormant_days = 90
    policy.save()
    asleep = _member(store_a, carol, "Asleep")
    _order(asleep, dt.datetime(2026, 9, 4, 12, tzinfo=SHANGHAI))  # 90 days before TODAY
    awake = _member(store_a, carol, "Awake")
    _order(awake, dt.datetime(2026, 9, 4, 12, tzinfo=SHANGHAI))
    _order(awake, dt.datetime(2026, 11, 30, 12, tzinfo=SHANGHAI))
    assert rules.dormant(today=TODAY, policy=policy) == 1
    assert set(_kinds("dormant")) == {asleep.pk}
    assert rules.dormant(today=TODAY, policy=policy) == 0


def test_owner_left_sends_the_task_to_the_pool(store_a, carol):
    member = _member(store_a, carol, "Pool", birthday=dt.date(1990, 12, 3))
    carol.is_active = False
    carol.save()
    assert rules.birthdays(today=TODAY) == 1
    assert _kinds("birthday")[member.pk].assignee_id is None


def test_confirm_wecom_sends_for_staff_with_waiting_tasks(store_a, store_b, carol, dave, bob):
    campaign = Campaign.objects.create(name="Winter sale", channel="wecom", store=store_a)
    for staff, store, state, confirmed in [(carol, store_a, "created", None), (carol, store_a, "created", None),
                                           (bob, store_a, "created", timezone.now()),
                                           (dave, store_b, "failed", None)]:
        WecomMassTask.objects.create(campaign=campaign, staff=staff, store=store, sender=staff.username, state=state,
                                     text="hi", confirmed_at=confirmed)
    assert rules.wecom_sends(today=TODAY) == 1
    task = Task.objects.get(kind="confirm_wecom_send")
    assert (task.assignee_id, task.store_id, task.member_id, task.params) == (carol.pk, store_a.pk, None, {"count": 2})
    assert "2" in task.title_text
    assert rules.wecom_sends(today=TODAY) == 0


def test_run_daily_runs_every_rule_and_is_rerunnable(store_a, carol):
    _member(store_a, carol, "B", birthday=timezone.localdate())
    first = rules.run_daily()
    assert first["birthday"] == 1
    assert rules.run_daily() == {"birthday": 0, "welcome": 0, "repurchase_due": 0, "dormant": 0,
                                 "confirm_wecom_send": 0, "expired": 0}
