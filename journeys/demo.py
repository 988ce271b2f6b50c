"""Demo staff tasks for the demo stores' clerks, for today: birthdays, welcomes, repurchases due and
dormant members to wake, a few already done with their outcome, and a couple in the store's pool;
and two live journeys from the templates with members inside. Idempotent: every task has a dedupe
key of the day, journeys are found by name and runs by their entry key, so a rerun adds nothing."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from journeys.models import Task, TaskKind, TaskOutcome, TaskPriority
from journeys.services import tasks
from journeys.services.rules import _due
from members.models import ConsentChannel, ConsentPurpose, Member
from members.services import consent
from scrm import demo as org_demo
from scrm.actors import SystemActor

DEMO_ACTOR = SystemActor("demo")
STORES = 3
PER_CLERK = 6
PLAN = [  # (kind, priority, payload)
    (TaskKind.BIRTHDAY, TaskPriority.HIGH, {}),
    (TaskKind.WELCOME, TaskPriority.HIGH, {}),
    (TaskKind.REPURCHASE_DUE, TaskPriority.NORMAL, {"category": "奶粉", "days": 30}),
    (TaskKind.DORMANT, TaskPriority.LOW, {"days": 180}),
    (TaskKind.FOLLOW_UP, TaskPriority.NORMAL, {}),
    (TaskKind.REPURCHASE_DUE, TaskPriority.NORMAL, {"category": "跑鞋", "days": 90}),
]
DONE = [TaskOutcome.REACHED, TaskOutcome.BOUGHT, TaskOutcome.NO_ANSWER]


def _rows(store, clerks, member_ids, today) -> list[tasks.TaskRow]:
    rows = []
    for c, clerk in enumerate(clerks):
        mine = member_ids[c * (PER_CLERK + 1):(c + 1) * (PER_CLERK + 1)]
        for i, member_id in enumerate(mine[:PER_CLERK]):
            kind, priority, payload = PLAN[i % len(PLAN)]
            due = _due(today) if i % 3 else timezone.localtime().replace(minute=0, second=0, microsecond=0) \
                + dt.timedelta(hours=2)
            rows.append(tasks.TaskRow(kind=kind, store_id=store.pk, member_id=member_id, assignee_id=clerk.pk,
                                      due_at=due, priority=priority, params=payload,
                                      dedupe_key=f"demo:{today.isoformat()}:{member_id}:{kind}"))
    for member_id in member_ids[len(clerks) * (PER_CLERK + 1):][:2]:  # the store's pool
        rows.append(tasks.TaskRow(kind=TaskKind.FOLLOW_UP, store_id=store.pk, member_id=member_id,
                                  due_at=_due(today), dedupe_key=f"demo:{today.isoformat()}:{member_id}:pool"))
    return rows


def _allow(member_ids) -> None:
    """Demo members get tasks only with marketing consent on WeCom, as real ones do."""
    have = set(consent.can_message(member_ids, ConsentChannel.WECOM))
    for member in Member.objects.filter(pk__in=[m for m in member_ids if m not in have]):
        consent.set_consent(member=member, purpose=ConsentPurpose.MARKETING, channel=ConsentChannel.WECOM,
                            granted=True, source="demo", actor=DEMO_ACTOR)


JOURNEYS = (("recurring_care", "生日关怀（演示）"), ("new_customer", "新客欢迎（演示）"))
JOURNEY_MEMBERS = 40  # per demo journey, the demo stores' newest members


def _journey(code: str, name: str):
    from journeys.models import Journey
    from journeys.services import journeys

    found = Journey.objects.filter(name=name, store=None).first()
    if found is not None:
        return found, False
    data = journeys.from_template(code)
    data.name = name
    journey = journeys.create_journey(actor=DEMO_ACTOR, data=data)
    return journeys.activate(actor=DEMO_ACTOR, journey=journey), True


def seed_journeys(stores) -> str:
    """Two live journeys from the templates, with the demo stores' newest members inside: the birthday
    care done (a greeting queued, a task for the guide), the welcome waiting out its week."""
    from journeys.services import entry, ticking
    from members import sql as members_sql

    member_ids = list(Member.live.filter(home_store__in=stores).order_by("-id")
                      .values_list("id", flat=True)[:JOURNEY_MEMBERS])
    made, entered = 0, 0
    now = timezone.now()
    for code, name in JOURNEYS:
        journey, created = _journey(code, name)
        made += created
        with transaction.atomic():
            entered += entry.enter(journey, f"SELECT m.id, m.created_at FROM {members_sql.MEMBER} m "
                                            "WHERE m.id = ANY(%s)", [member_ids], now=now)
    for _round in range(6):  # the steps due now (the tick goes on from here)
        if not ticking.advance_batch(now=now, limit=500):
            break
    if not made and not entered:
        return "journeys: already seeded"
    return f"journeys: {made} live journeys, {entered} members entered"


def seed() -> str:
    return f"{_seed_tasks()}; {_seed_journeys()}"


def _seed_journeys() -> str:
    stores = org_demo.demo_stores()[:STORES]
    if not stores or not Member.objects.exists():
        return "journeys: no stores or members yet; nothing seeded"
    _allow(list(Member.live.filter(home_store__in=stores).order_by("-id")
                .values_list("id", flat=True)[:JOURNEY_MEMBERS]))
    return seed_journeys(stores)


def _seed_tasks() -> str:
    stores = org_demo.demo_stores()[:STORES]
    if not stores or not Member.objects.exists():
        return "tasks: no stores or members yet; nothing seeded"
    teams = org_demo.store_teams(stores)
    today = timezone.localdate()
    made = done = 0
    for store in stores:
        clerks = (teams.get(store.pk) or [])[1:]
        if not clerks:
            continue
        member_ids = list(Member.live.filter(home_store=store).order_by("-id").values_list("id", flat=True)[:60])
        with transaction.atomic():
            rows = _rows(store, clerks, member_ids, today)
            _allow([r.member_id for r in rows])
            created = tasks.create_tasks(rows=rows, actor=DEMO_ACTOR, source="rule")
            made += created.created
            for index, task in enumerate(Task.objects.filter(pk__in=created.ids).exclude(assignee=None)
                                         .select_related("assignee").order_by("pk")):
                if index % 4 == 0:
                    tasks.complete(task=task, actor=task.assignee, outcome=DONE[index % len(DONE)],
                                   note="演示：已联系")
                    done += 1
    if not made:
        return "tasks: already seeded for today"
    return f"tasks: {made} tasks for today in {len(stores)} stores ({done} done)"
