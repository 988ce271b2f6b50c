"""The journeys' tick: enter who met a trigger (journeys.services.entry), then claim due runs in bounded
batches with SELECT ... FOR UPDATE SKIP LOCKED and carry out their current step, set-based per step:

- a wait step, when reached, sets the run's next due time (a duration, the next weekday at a time,
  a fixed date, day N after the trigger at a time; in the brand's time zone) and, when due, moves on;
- a send step writes the members' deliveries through the campaigns' fan-out (its consent, minors,
  identity checks) into the step's campaign of the month, which the campaigns' sending engine sends
  with its caps and quiet hours; a member it cannot reach is a recorded skip with the reason;
- a task step creates staff tasks (journeys.services.tasks.create_tasks, deduplicated per run and
  step); a named assignee who left or moved store leaves the task to the member's owner or the pool,
  and the history says so;
- a branch goes to its later step when the condition holds (a tag, a tier, an order, a click on or an
  SMS reply to one of the journey's messages since entering), else on to the next;
- an exit step, or the last step done, ends the run.

Every step's effect, the run's history row and the run's move are written in the claim's
transaction, so a crash leaves the step undone and the next claim does it once; a second worker
skips the locked runs. Before a step, runs whose member met the journey's goal leave (converted),
and runs whose member was merged away or erased leave too."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from journeys.models import (
    Journey,
    JourneyCampaign,
    JourneyStep,
    RunState,
    StepKind,
    StepOutcome,
    TaskKind,
    TaskPriority,
    TaskSource,
)
from journeys.sql import JOURNEY, JOURNEY_CAMPAIGN, RUN, RUN_STEP, STEP
from loyalty.orders import sql as orders_sql
from loyalty.tiers import sql as tiers_sql
from members import sql as members_sql
from scrm import events
from scrm.actors import SystemActor
from scrm.errors import InvalidInput
from scrm.sql import array

BATCH = 1000
EXITED = "journey.exited"
ADVISORY = 871_300  # pg_advisory_xact_lock's first key: a send step's campaign of the month


@dataclass
class TickReport:
    entered: int = 0
    claimed: int = 0
    steps: int = 0
    queued: int = 0
    tasks: int = 0
    skipped: int = 0
    done: int = 0
    exited: int = 0
    converted: int = 0
    reopened: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Due:
    id: int
    journey_id: int
    version: int
    member_id: int
    store_id: int | None  # the member's home store now
    step_id: int
    phase: int
    live: bool
    trigger_at: dt.datetime


# --- ending runs -------------------------------------------------------------------------------------------

def _finish(ids: list[int], *, state: str, reason: str, now: dt.datetime, converted: bool = False) -> int:
    """End the active runs `ids`, each a journey.exited event, in one statement."""
    if not ids:
        return 0
    ev, ev_params = events.insert_sql(
        EXITED, "SELECT member_id, store_id, jsonb_build_object('journey', jsonb_build_object('id', journey_id), "
        "'run', jsonb_build_object('id', id), 'state', state, 'reason', reason) FROM w", at=now)
    conv = ", converted_at = %s" if converted else ""
    sql = (f"WITH w AS (UPDATE {RUN} SET state = %s, reason = %s, finished_at = %s, next_due_at = NULL{conv} "
           "WHERE id = ANY(%s) AND state = 'active' RETURNING id, journey_id, member_id, store_id, state, reason), "
           f"ev AS ({ev}) SELECT count(*) FROM w")
    params = [state, reason, now, *([now] if converted else []), array(ids), *ev_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def exit_all(*, journey: Journey, reason: str, now: dt.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {RUN} WHERE journey_id = %s AND state = 'active' ORDER BY id FOR UPDATE",
                       [journey.pk])
        ids = [row[0] for row in cursor.fetchall()]
    return _finish(ids, state=RunState.EXITED, reason=reason, now=now)


def _goal_met(ids: list[int]) -> list[int]:
    """Of the runs `ids`, those whose member met their journey's goal since entering."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id FROM {RUN} r JOIN {JOURNEY} j ON j.id = r.journey_id WHERE r.id = ANY(%s) AND ("
            f"(j.goal = 'ordered' AND EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = r.member_id "
            "AND o.placed_at >= r.entered_at AND o.status <> 'refunded')) OR "
            f"(j.goal = 'tag' AND EXISTS (SELECT 1 FROM {members_sql.MEMBER_TAG} mt WHERE mt.member_id = r.member_id "
            "AND mt.tag_id = (j.goal_params->>'tag')::bigint)))", [array(ids)])
        return [row[0] for row in cursor.fetchall()]


# --- a batch's writes ---------------------------------------------------------------------------------------

class Pass:
    """One claimed batch: the steps it touches (by position), and what its steps write, gathered so
    that each kind of write is one statement for the whole batch (history, moves, waits, tasks)."""

    def __init__(self, due: list[Due], now: dt.datetime, report: TickReport) -> None:
        self.now, self.report = now, report
        self.history: list[tuple[int, int, str, str]] = []
        self.moves: list[tuple[int, int]] = []
        self.done: list[int] = []
        self.waits: list[tuple[int, dt.datetime]] = []
        self.task_groups: list[tuple[list[Due], JourneyStep, list[tuple[str, str]], list]] = []
        self.campaigns: dict = {}  # send step id -> its campaign of the month
        self.reachable: set[int] = set()  # task steps' members who may get a task
        self.staff: dict = {}  # task steps' named assignees
        pairs = {(d.journey_id, d.version) for d in due}
        self.by_id: dict[int, JourneyStep] = {}
        self.by_position: dict[tuple[int, int, int], JourneyStep] = {}
        if not pairs:
            return
        journeys = Journey.objects.in_bulk({j for j, _ in pairs})
        match = Q()
        for journey_id, version in pairs:
            match |= Q(journey_id=journey_id, version=version)
        for step in JourneyStep.objects.filter(match):
            step.journey = journeys[step.journey_id]
            self.by_id[step.pk] = step
            self.by_position[(step.journey_id, step.version, step.position)] = step

    def after(self, step: JourneyStep) -> JourneyStep | None:
        return self.by_position.get((step.journey_id, step.version, step.position + 1))

    def at(self, step: JourneyStep, position: int) -> JourneyStep | None:
        return self.by_position.get((step.journey_id, step.version, position))

    def record(self, rows: list[Due], step: JourneyStep, outcomes: list[tuple[str, str]]) -> None:
        """One history row per run reaching `step` (outcome, reason); a run reaches a step once."""
        self.history += [(r.id, step.pk, o, reason) for r, (o, reason) in zip(rows, outcomes, strict=True)]

    def move(self, rows: list[Due], target: JourneyStep | None) -> None:
        """Runs go on to `target` (due now), or are done when there is no step after."""
        if target is None:
            self.done += [r.id for r in rows]
        else:
            self.moves += [(r.id, target.pk) for r in rows]

    def flush(self) -> None:
        self._tasks()
        now = self.now
        with connection.cursor() as cursor:
            if self.history:
                run_ids, step_ids, outcomes, reasons = zip(*self.history, strict=True)
                cursor.execute(
                    f"INSERT INTO {RUN_STEP} (run_id, step_id, store_id, at, outcome, reason) "
                    "SELECT u.run_id, u.step_id, r.store_id, %s, u.outcome, u.reason FROM unnest(%s::bigint[], "
                    f"%s::bigint[], %s::text[], %s::text[]) AS u(run_id, step_id, outcome, reason) JOIN {RUN} r "
                    "ON r.id = u.run_id ON CONFLICT (run_id, step_id) DO NOTHING",
                    [now, array(run_ids), array(step_ids), array(outcomes), array(reasons)])
            if self.moves:
                ids, targets = zip(*self.moves, strict=True)
                cursor.execute(
                    f"UPDATE {RUN} r SET step_id = u.step_id, phase = 0, next_due_at = %s "
                    "FROM unnest(%s::bigint[], %s::bigint[]) AS u(id, step_id) WHERE r.id = u.id",
                    [now, array(ids), array(targets)])
            if self.waits:
                ids, wakes = zip(*self.waits, strict=True)
                cursor.execute(
                    f"UPDATE {RUN} r SET phase = 1, next_due_at = u.at "
                    "FROM unnest(%s::bigint[], %s::timestamptz[]) AS u(id, at) WHERE r.id = u.id",
                    [array(ids), array(wakes)])
        self.report.done += _finish(self.done, state=RunState.DONE, reason="completed", now=now)

    def _tasks(self) -> None:
        """Every task step's tasks in one create_tasks call (a savepoint: a refused batch is tried step
        by step, and a step whose tasks are refused is a recorded skip)."""
        from journeys.services import tasks

        rows = [row for *_rest, task_rows in self.task_groups for row in task_rows]
        if rows:
            actor = SystemActor("journey:tick")
            try:
                with transaction.atomic():
                    self.report.tasks += tasks.create_tasks(rows=rows, actor=actor, source=TaskSource.JOURNEY).created
            except InvalidInput:
                for index, (group, step, outcomes, task_rows) in enumerate(self.task_groups):
                    try:
                        with transaction.atomic():
                            self.report.tasks += tasks.create_tasks(rows=task_rows, actor=actor,
                                                                    source=TaskSource.JOURNEY).created
                    except InvalidInput:
                        outcomes = [(StepOutcome.SKIPPED, "task_refused") if o == StepOutcome.TASK else (o, r)
                                    for o, r in outcomes]
                        self.task_groups[index] = (group, step, outcomes, task_rows)
        for group, step, outcomes, _task_rows in self.task_groups:
            self.report.skipped += sum(1 for o, _ in outcomes if o == StepOutcome.SKIPPED)
            self.record(group, step, outcomes)
            self.move(group, self.after(step))


# --- steps -------------------------------------------------------------------------------------------------

def _at_time(config: dict) -> dt.time:
    return dt.time.fromisoformat(config.get("at") or "09:00")


def wake_at(config: dict, now: dt.datetime, trigger_at: dt.datetime | None = None) -> dt.datetime:
    """When a wait that starts `now` ends (day N after the trigger: after `trigger_at`), in the
    brand's time zone; never before `now`."""
    mode = config.get("mode", "duration")
    if mode == "duration":
        return now + dt.timedelta(days=config.get("days") or 0, hours=config.get("hours") or 0,
                                  minutes=config.get("minutes") or 0)
    local = timezone.localtime(now)
    at = _at_time(config)
    if mode == "weekday":
        ahead = (int(config["weekday"]) - local.weekday()) % 7
        candidate = timezone.make_aware(dt.datetime.combine(local.date() + dt.timedelta(days=ahead), at))
        return candidate if candidate > now else candidate + dt.timedelta(days=7)
    if mode == "date":
        wake = timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(config["date"]), at))
    else:  # day N after the trigger, at a time of day
        day = timezone.localtime(trigger_at or now).date() + dt.timedelta(days=int(config["days"]))
        wake = timezone.make_aware(dt.datetime.combine(day, at))
    return max(wake, now)


def _wait(rows: list[Due], step: JourneyStep, p: Pass) -> None:
    waiting = [r for r in rows if r.phase == 0]
    p.waits += [(r.id, wake_at(step.config, p.now, r.trigger_at)) for r in waiting]
    p.record(waiting, step, [(StepOutcome.WAITED, "")] * len(waiting))
    p.move([r for r in rows if r.phase != 0], p.after(step))


def _campaigns(steps: list[JourneyStep], now: dt.datetime) -> dict:
    """The send steps' campaigns of this month, made when a step's first message is due, sending."""
    from campaigns import partitions
    from campaigns.models import Campaign, CampaignStatus

    month = partitions.month_of(now)
    found = {link.step_id: link.campaign for link in JourneyCampaign.objects.select_related("campaign")
             .filter(step__in=steps, month=month)}
    finished = [c.pk for c in found.values() if c.status == CampaignStatus.DONE]
    if finished:  # finished since their last messages: open again
        Campaign.objects.filter(pk__in=finished, status=CampaignStatus.DONE).update(
            status=CampaignStatus.SENDING, finished_at=None)
    for step in steps:
        if step.pk in found:
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY, step.pk])
        link = JourneyCampaign.objects.select_related("campaign").filter(step=step, month=month).first()
        if link is None:
            journey = step.journey
            campaign = Campaign.objects.create(
                name=f"{journey.name[:60]} · {step.position} · {month:%Y-%m}", store_id=journey.store_id,
                channel=step.config["channel"], content=step.config["content"], status=CampaignStatus.SENDING,
                scheduled_at=now, started_at=now, send_month=month, created_by_label=f"journey:{journey.pk}")
            link = JourneyCampaign.objects.create(step=step, month=month, campaign=campaign)
        found[step.pk] = link.campaign
    return found


def _send(rows: list[Due], step: JourneyStep, p: Pass) -> None:
    from campaigns.models import DeliveryState
    from campaigns.services import fanout

    campaign = p.campaigns[step.pk]
    written = fanout.insert_deliveries(campaign=campaign, member_ids=[r.member_id for r in rows], now=p.now,
                                       store_id=campaign.store_id)
    outcomes = []
    for r in rows:
        state, reason = written.get(r.member_id, (None, "already_sent"))
        if state == DeliveryState.PENDING:
            outcomes.append((StepOutcome.QUEUED, ""))
            p.report.queued += 1
        else:
            outcomes.append((StepOutcome.SKIPPED, reason or str(state)))
            p.report.skipped += 1
    p.record(rows, step, outcomes)
    p.move(rows, p.after(step))


def _assignee(config: dict, store_id: int, staff: dict) -> tuple[int | None, str]:
    """The step's named assignee for a task in `store_id`, or (None, why): the owner or the pool takes it."""
    from scrm.models import STORE_ROLES

    pk = config.get("assignee")
    if pk is None:
        return None, ""
    user = staff.get(pk)
    if user is None or not user.is_active:
        return None, "assignee_left"
    if user.role not in STORE_ROLES or user.store_id != store_id:
        return None, "assignee_elsewhere"
    return user.pk, ""


def _task(rows: list[Due], step: JourneyStep, p: Pass) -> None:
    from journeys.services import tasks

    config = step.config
    kind = config.get("kind") or TaskKind.FOLLOW_UP
    params = {k: str(v) for k, v in (step.journey.trigger_params or {}).items() if k in ("category", "days")}
    task_rows, outcomes = [], []
    for r in rows:
        if r.store_id is None:
            outcomes.append((StepOutcome.SKIPPED, "no_store"))
            continue
        if r.member_id not in p.reachable:
            outcomes.append((StepOutcome.SKIPPED, "no_consent"))
            continue
        assignee, why = _assignee(config, r.store_id, p.staff)
        outcomes.append((StepOutcome.TASK, why))
        task_rows.append(tasks.TaskRow(
            kind=kind, store_id=r.store_id, member_id=r.member_id, assignee_id=assignee,
            due_at=p.now + dt.timedelta(hours=config.get("due_hours") or 24),
            code="" if kind == TaskKind.CUSTOM else kind, params=params, title=config.get("title") or "",
            message=config.get("message") or "", priority=config.get("priority") or TaskPriority.NORMAL,
            dedupe_key=f"journey:{r.id}:{step.pk}"))
    p.task_groups.append((rows, step, outcomes, task_rows))


def _condition_sql(config: dict) -> tuple[str, list]:
    from campaigns.links import sql as links_sql

    condition = config["condition"]
    if condition == "tag":
        return (f"EXISTS (SELECT 1 FROM {members_sql.MEMBER_TAG} mt WHERE mt.member_id = r.member_id "
                "AND mt.tag_id = %s)", [config["tag"]])
    if condition == "tier":
        return (f"EXISTS (SELECT 1 FROM {tiers_sql.MEMBER_TIER} t JOIN {tiers_sql.TIER_LEVEL} l ON l.id = t.level_id "
                "WHERE t.member_id = r.member_id AND l.rank >= %s)", [config["rank"]])
    if condition == "ordered":
        return (f"EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = r.member_id "
                "AND o.placed_at >= r.entered_at AND o.status <> 'refunded')", [])
    if condition == "clicked":
        return (f"EXISTS (SELECT 1 FROM {links_sql.CLICK} c WHERE c.member_id = r.member_id "
                "AND c.clicked_at >= r.entered_at AND c.campaign_id IN ("
                f"SELECT jc.campaign_id FROM {JOURNEY_CAMPAIGN} jc "
                f"JOIN {STEP} s ON s.id = jc.step_id WHERE s.journey_id = r.journey_id))", [])
    if condition == "replied":  # an SMS reply to one of this journey's messages (campaigns.replies)
        from campaigns.replies import sql as replies_sql

        return (f"EXISTS (SELECT 1 FROM {replies_sql.REPLY} x WHERE x.member_id = r.member_id "
                "AND x.received_at >= r.entered_at AND x.campaign_id IN ("
                f"SELECT jc.campaign_id FROM {JOURNEY_CAMPAIGN} jc "
                f"JOIN {STEP} s ON s.id = jc.step_id WHERE s.journey_id = r.journey_id))", [])
    raise ValueError(f"unknown condition {condition!r}")


def _branch(rows: list[Due], step: JourneyStep, p: Pass) -> None:
    condition, params = _condition_sql(step.config)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.id FROM {RUN} r WHERE r.id = ANY(%s) AND {condition}",
                       [array([r.id for r in rows]), *params])
        met = {row[0] for row in cursor.fetchall()}
    p.record(rows, step, [(StepOutcome.YES if r.id in met else StepOutcome.NO, "") for r in rows])
    p.move([r for r in rows if r.id in met], p.at(step, int(step.config["goto"])))
    p.move([r for r in rows if r.id not in met], p.after(step))


def _exit(rows: list[Due], step: JourneyStep, p: Pass) -> None:
    p.record(rows, step, [(StepOutcome.EXITED, "")] * len(rows))
    p.report.exited += _finish([r.id for r in rows], state=RunState.EXITED, reason="exit_step", now=p.now)


HANDLERS = {StepKind.WAIT: _wait, StepKind.SEND: _send, StepKind.TASK: _task, StepKind.BRANCH: _branch,
            StepKind.EXIT: _exit}


# --- claiming ----------------------------------------------------------------------------------------------

def _claim(now: dt.datetime, limit: int) -> list[Due]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id, r.journey_id, r.version, r.member_id, m.home_store_id, r.step_id, r.phase, "
            f"({members_sql.live('m')}), r.trigger_at FROM {RUN} r JOIN {JOURNEY} j ON j.id = r.journey_id "
            f"JOIN {members_sql.MEMBER} m ON m.id = r.member_id "
            "WHERE r.state = 'active' AND r.next_due_at <= %s AND j.state = 'live' "
            "ORDER BY r.next_due_at LIMIT %s FOR UPDATE OF r SKIP LOCKED", [now, limit])
        return [Due(*row) for row in cursor.fetchall()]


@transaction.atomic
def advance_batch(*, now: dt.datetime, limit: int = BATCH, report: TickReport | None = None) -> int:
    """Claim up to `limit` due runs and carry out each one's current step; the runs claimed."""
    report = report if report is not None else TickReport()
    due = _claim(now, limit)
    if not due:
        return 0
    report.claimed += len(due)
    gone = [d.id for d in due if not d.live]
    report.exited += _finish(gone, state=RunState.EXITED, reason="member_gone", now=now)
    rest = [d for d in due if d.live]
    converted = set(_goal_met([d.id for d in rest]))
    report.converted += _finish(sorted(converted), state=RunState.EXITED, reason="goal", now=now, converted=True)
    rest = [d for d in rest if d.id not in converted]
    p = Pass(rest, now, report)
    groups: dict[int, list[Due]] = {}
    for d in rest:
        groups.setdefault(d.step_id, []).append(d)
    _prepare(p, groups)
    for step_id, rows in sorted(groups.items()):
        step = p.by_id[step_id]
        report.steps += len(rows)
        HANDLERS[step.kind](rows, step, p)
    p.flush()
    return len(due)


def _prepare(p: Pass, groups: dict[int, list[Due]]) -> None:
    """What the batch's steps read once for all: the send steps' campaigns, the task steps' members'
    consent and named staff."""
    from journeys.services import tasks
    from members.services import consent
    from scrm.models import User

    kinds = {p.by_id[step_id].kind for step_id in groups}
    p.campaigns = _campaigns([p.by_id[i] for i in groups if p.by_id[i].kind == StepKind.SEND], p.now) \
        if StepKind.SEND in kinds else {}
    task_members = [d.member_id for i, rows in groups.items() if p.by_id[i].kind == StepKind.TASK for d in rows]
    p.reachable = set(consent.can_message(task_members, tasks.CONSENT_CHANNEL)) if task_members else set()
    named = {p.by_id[i].config.get("assignee") for i in groups if p.by_id[i].kind == StepKind.TASK} - {None}
    p.staff = User.objects.filter(pk__in=named).only("pk", "is_active", "store_id", "role").in_bulk() \
        if named else {}


def reopen_campaigns(*, now: dt.datetime) -> int:
    """A journey's campaign the sending engine marked done while a step was adding to it (the two
    statements crossed) is sending again, so no delivery waits unsent."""
    from campaigns.models import Campaign, Delivery

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Campaign._meta.db_table} c SET status = 'sending', finished_at = NULL FROM {JOURNEY_CAMPAIGN} jc "
            "WHERE jc.campaign_id = c.id AND jc.month >= %s AND c.status = 'done' AND EXISTS (SELECT 1 FROM "
            f"{Delivery._meta.db_table} d WHERE d.campaign_id = c.id AND d.send_month = c.send_month "
            "AND d.state = 'pending')", [(timezone.localtime(now).date().replace(day=1) - dt.timedelta(days=1))
                                         .replace(day=1)])
        return cursor.rowcount


def tick(*, budget: float = 20.0, batch: int = BATCH, now_fn=timezone.now) -> TickReport:
    """One pass: entries, then due runs in batches until none is due or the budget is spent. Safe on
    any number of workers at once."""
    report = TickReport()
    deadline = time.monotonic() + budget
    report.entered = _entries(now_fn(), deadline)
    while time.monotonic() < deadline:
        if advance_batch(now=now_fn(), limit=batch, report=report) == 0:
            break
    report.reopened = reopen_campaigns(now=now_fn())
    return report


def _entries(now: dt.datetime, deadline: float) -> int:
    from journeys.services import entry

    return entry.run_entries(now=now, deadline=deadline)
