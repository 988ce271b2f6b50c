"""The brand's priority per kind of task the rules and the system make (/tasks/settings/, "Priorities"):
the defaults are the list as it always was, a change is taken by the next rule run (and the Today list
follows) while open tasks keep theirs, bad input is refused naming the field with nothing written, and
store managers read but do not change it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, WecomMassTask
from journeys import queries
from journeys.models import RULE_KINDS, RepurchaseCycle, Task, TaskPolicy, TaskPriority
from journeys.services import journeys, rules
from journeys.services import task_settings as service
from loyalty.orders.models import Order, OrderLine
from members.models import Member
from scrm.errors import Forbidden, InvalidInput
from tests.journeys.clock import later_today
from tests.journeys.conftest import allow

pytestmark = pytest.mark.django_db
PAGE = "/tasks/settings/"
DEFAULTS = {"birthday": "high", "welcome": "high", "repurchase_due": "normal", "dormant": "low",
            "confirm_wecom_send": "high"}
SAVED = {"birthday": "low", "welcome": "normal", "repurchase_due": "high", "dormant": "high",
         "confirm_wecom_send": "normal"}


def _member(store, owner, name, **fields):
    member = Member.objects.create(name=name, home_store=store, owner=owner, **fields)
    allow(member)
    return member


def _order(member, placed: dt.datetime, number=[0]):  # noqa: B006 - a counter
    number[0] += 1
    order = Order.objects.create(channel="pos", external_id=f"P{number[0]}", member=member, store=member.home_store,
                                 total_amount=Decimal("100"), placed_at=placed)
    OrderLine.objects.create(order=order, name="goods", category="奶粉", amount=Decimal("100"))


def _days_ago(today: dt.date, days: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days), dt.time(12)))


def _one_of_each(store, owner, carol, today: dt.date) -> None:
    """A member for every rule of `today`, and WeCom sends waiting for carol."""
    _member(store, owner, "Birthday", birthday=today.replace(year=1990) if (today.month, today.day) != (2, 29)
            else dt.date(1992, 2, 29))
    _member(store, owner, "Joined yesterday", created_at=_days_ago(today, 1))
    RepurchaseCycle.objects.create(category="奶粉", days=30)
    _order(_member(store, owner, "Buys again"), _days_ago(today, 30))
    _order(_member(store, owner, "Asleep"), _days_ago(today, TaskPolicy.current().dormant_days))
    campaign = Campaign.objects.create(name="Winter sale", channel="wecom", store=store)
    WecomMassTask.objects.create(campaign=campaign, staff=carol, store=store, sender=carol.username, state="created",
                                 text="hi")


def test_the_defaults_are_the_priorities_the_rules_always_had(store_a, carol):
    policy = TaskPolicy.current()
    assert service.priorities(policy) == DEFAULTS
    today = timezone.localdate()
    _one_of_each(store_a, carol, carol, today)
    made = rules.run_daily(today=today)
    assert all(made[kind] == 1 for kind in RULE_KINDS), made
    assert {t.kind: t.priority for t in Task.objects.all()} == {
        kind: service.PRIORITY_VALUES[name] for kind, name in DEFAULTS.items()}


def test_every_rule_takes_the_brands_priority_read_once_per_run(alice, store_a, carol):
    service.update_priorities(actor=alice, values=SAVED)
    today = timezone.localdate()
    _one_of_each(store_a, carol, carol, today)
    with CaptureQueriesContext(connection) as run:
        made = rules.run_daily(today=today)
    assert all(made[kind] == 1 for kind in RULE_KINDS), made
    assert sum(TaskPolicy._meta.db_table in q["sql"] for q in run.captured_queries) == 1
    assert {t.kind: t.priority for t in Task.objects.all()} == {
        kind: service.PRIORITY_VALUES[name] for kind, name in SAVED.items()}


def test_a_changed_priority_is_used_by_the_next_run_and_the_today_list_follows(alice, store_a, carol):
    today = timezone.localdate()
    birthday = today.replace(year=1990) if (today.month, today.day) != (2, 29) else dt.date(1992, 2, 29)
    first = _member(store_a, carol, "First", birthday=birthday)
    follow_up_member = _member(store_a, carol, "Follow-up")
    assert rules.birthdays(today=today) == 1
    from journeys.services import tasks

    tasks.create_tasks(rows=[tasks.TaskRow(kind="follow_up", store_id=store_a.pk, member_id=follow_up_member.pk,
                                           due_at=later_today(dt.timedelta(minutes=5)), dedupe_key="t:follow")],
                       actor=rules.RULE_ACTOR, source="rule")
    # A birthday (high, due tonight) comes before a follow-up (normal, due sooner).
    assert [t.member_id for t in queries.today_section(carol)["tasks"]] == [first.pk, follow_up_member.pk]

    service.update_priorities(actor=alice, values={"birthday": "low"})
    second = _member(store_a, carol, "Second", birthday=birthday)
    assert rules.birthdays(today=today) == 1
    made = Task.objects.get(member=second)
    assert made.priority == TaskPriority.LOW
    assert Task.objects.get(member=first).priority == TaskPriority.HIGH  # open tasks keep theirs
    assert [t.member_id for t in queries.today_section(carol)["tasks"]] == [first.pk, follow_up_member.pk, second.pk]


def test_an_operator_saves_priorities_on_the_page(client, alice):
    client.force_login(alice)
    page = client.get(PAGE).content.decode()
    assert 'data-testid="priority-form"' in page and "Priorities" in page
    assert "open tasks keep the priority they were made with" in page
    assert 'name="birthday"' in page and "Birthday greeting" in page and "Confirm today&#x27;s WeCom sends" in page
    answer = client.post(reverse("journeys-priorities"), SAVED)
    assert answer.status_code == 302
    assert service.priorities(TaskPolicy.current()) == SAVED
    assert '<option value="low" selected>' in client.get(PAGE).content.decode()


@pytest.mark.parametrize("field, value", [("birthday", "urgent"), ("dormant", "1"), ("welcome", "")])
def test_a_bad_priority_on_the_page_is_refused_naming_the_field(client, alice, field, value):
    client.force_login(alice)
    answer = client.post(reverse("journeys-priorities"), {**SAVED, field: value})
    assert answer.status_code == 400
    assert list(answer.context["priority_form"].errors) == [field]
    assert service.priorities(TaskPolicy.current()) == DEFAULTS


@pytest.mark.parametrize("values, field", [
    ({"birthday": "low", "custom": "high"}, "custom"),
    ({"birthday": "low", "follow_up": "high"}, "follow_up"),
    ({"welcome": "urgent"}, "welcome"),
    ({"dormant": 1}, "dormant"),
    ({"dormant": None}, "dormant"),
])
def test_the_service_refuses_unknown_kinds_and_priorities_and_writes_nothing(alice, values, field):
    with pytest.raises(InvalidInput) as excinfo:
        service.update_priorities(actor=alice, values=values)
    assert list(excinfo.value.details) == [field]
    assert service.priorities(TaskPolicy.current()) == DEFAULTS


def test_the_database_refuses_a_priority_that_is_not_one(db):
    TaskPolicy.current()
    with pytest.raises(IntegrityError), transaction.atomic():
        TaskPolicy.objects.filter(pk=1).update(birthday_priority=4)


def test_store_managers_read_the_priorities_and_clerks_have_no_page(client, alice, bob, carol):
    service.update_priorities(actor=alice, values={"dormant": "high"})
    client.force_login(bob)
    page = client.get(PAGE).content.decode()
    assert 'data-testid="priority-form"' not in page
    assert 'data-testid="priority-dormant">High<' in page and 'data-testid="priority-birthday">High<' in page
    assert client.post(reverse("journeys-priorities"), {**DEFAULTS, "dormant": "low"}).status_code == 403
    with pytest.raises(Forbidden):
        service.update_priorities(actor=bob, values={"dormant": "low"})
    client.force_login(carol)
    assert client.post(reverse("journeys-priorities"), {**DEFAULTS, "dormant": "low"}).status_code == 403
    assert TaskPolicy.current().dormant_priority == TaskPriority.HIGH


def test_journey_templates_take_the_brands_priority_unless_the_template_chose_one(alice):
    def task_priorities(code):
        return [(s.config["kind"], s.config["priority"]) for s in journeys.from_template(code).steps
                if s.kind == "task"]

    assert task_priorities("recurring_care") == [("birthday", TaskPriority.HIGH)]
    assert task_priorities("new_customer") == [("welcome", TaskPriority.HIGH), ("follow_up", TaskPriority.NORMAL)]
    service.update_priorities(actor=alice, values={"birthday": "low", "welcome": "normal"})
    assert task_priorities("recurring_care") == [("birthday", TaskPriority.LOW)]
    assert task_priorities("new_customer") == [("welcome", TaskPriority.NORMAL), ("follow_up", TaskPriority.NORMAL)]
    assert task_priorities("conversion") == [("follow_up", TaskPriority.HIGH)]  # the template's own choice
