"""The journeys' tick: enter who met a trigger (journeys.services.entry), then claim due runs in bounded
batches with SELECT ... FOR UPDATE SKIP LOCKED and carry each run through its steps until it waits or
ends, in rounds: a round does every claimed run's current step, the runs at steps of one kind together
(one statement per kind of branch condition, one fan-out per channel for the batch's send steps, one
create_tasks for its task steps, one UPDATE for where every run now stands):

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
from typing import NamedTuple

from django.db import connection, transaction
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


class Due(NamedTuple):
    id: int
    journey_id: int
    version: int
    member_id: int
    store_id: int | None  # the member's home store now
    step_id: int
    phase: int
    live: bool
    trigger_at: dt.datetime
    run_store_id: int | None  # the run's store (its history's)


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
    that each kind of write is one statement for the whole batch (history, positions, deliveries,
    tasks). A run goes on through its steps in the batch, round after round, until it waits or ends."""

    def __init__(self, due: list[Due], now: dt.datetime, report: TickReport) -> None:
        self.now, self.report = now, report
        self.history: list[tuple[int, int, int | None, str, str]] = []
        self.claimed = {d.id: (d.step_id, d.phase) for d in due}
        self.at_step: dict[int, tuple[int, int, dt.datetime | None]] = {}  # run -> (step, phase, next due)
        self.going: list[Due] = []  # runs on to their next step in this batch's next round
        self.done: list[int] = []
        self.exits: list[int] = []
        self.branches: dict[str, list[tuple[list[Due], JourneyStep]]] = {}
        self.task_groups: list[tuple[list[Due], JourneyStep, list[tuple[str, str]], list]] = []
        self.campaigns: dict = {}  # send step id -> its campaign of the month
        self.sends: list[tuple[list[Due], JourneyStep]] = []
        self.reachable: set[int] = set()  # task steps' members who may get a task
        self.staff: dict = {}  # task steps' named assignees
        pairs = {(d.journey_id, d.version) for d in due}
        self.by_id: dict[int, JourneyStep] = {}
        self.by_position: dict[tuple[int, int, int], JourneyStep] = {}
        if not pairs:
            return
        journeys = Journey.objects.in_bulk({j for j, _ in pairs})
        journey_ids, versions = zip(*sorted(pairs), strict=True)
        for step in JourneyStep.objects.raw(
                f"SELECT s.* FROM {STEP} s JOIN unnest(%s::bigint[], %s::int[]) AS u(journey_id, version) "
                "ON s.journey_id = u.journey_id AND s.version = u.version", [array(journey_ids), array(versions)]):
            step.journey = journeys[step.journey_id]
            self.by_id[step.pk] = step
            self.by_position[(step.journey_id, step.version, step.position)] = step

    def after(self, step: JourneyStep) -> JourneyStep | None:
        return self.by_position.get((step.journey_id, step.version, step.position + 1))

    def at(self, step: JourneyStep, position: int) -> JourneyStep | None:
        return self.by_position.get((step.journey_id, step.version, position))

    def record(self, rows: list[Due], step: JourneyStep, outcomes: list[tuple[str, str]]) -> None:
        """One history row per run reaching `step` (outcome, reason); a run reaches a step once."""
        self.history += [(r.id, step.pk, r.run_store_id, o, reason)
                         for r, (o, reason) in zip(rows, outcomes, strict=True)]

    def move(self, rows: list[Due], step: JourneyStep, target: JourneyStep | None) -> None:
        """Runs leave `step` for `target`, which they reach in the next round; or are done when there is
        no step after. A target not after the step (never from a valid journey) waits for the next claim."""
        if target is None:
            self.end(rows, step)
            self.done += [r.id for r in rows]
            return
        for r in rows:
            self.at_step[r.id] = (target.pk, 0, self.now)
        if target.position > step.position:
            self.going += [r._replace(step_id=target.pk, phase=0) for r in rows]

    def wait(self, rows: list[Due], step: JourneyStep, wakes: list[dt.datetime]) -> None:
        for r, wake in zip(rows, wakes, strict=True):
            self.at_step[r.id] = (step.pk, 1, wake)

    def end(self, rows: list[Due], step: JourneyStep) -> None:
        """Runs end at `step` (done or exited): they stay at it, due no more."""
        for r in rows:
            self.at_step[r.id] = (step.pk, r.phase, None)

    def next_round(self) -> list[Due]:
        """Settle this round's branches; the runs that go on to a step now."""
        self._branches()
        going, self.going = self.going, []
        return going

    def flush(self) -> None:
        self._deliveries()
        self._tasks()
        now = self.now
        with connection.cursor() as cursor:
            if self.history:
                # Each run's steps in the order it took them (ids in that order: the timeline reads them so).
                history = sorted(self.history, key=lambda h: (h[0], self.by_id[h[1]].position))
                run_ids, step_ids, stores, outcomes, reasons = zip(*history, strict=True)
                cursor.execute(
                    f"INSERT INTO {RUN_STEP} (run_id, step_id, store_id, at, outcome, reason) "
                    "SELECT u.run_id, u.step_id, u.store_id, %s, u.outcome, u.reason FROM unnest(%s::bigint[], "
                    "%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS u(run_id, step_id, store_id, outcome, "
                    "reason) ON CONFLICT (run_id, step_id) DO NOTHING",
                    [now, array(run_ids), array(step_ids), array(stores), array(outcomes), array(reasons)])
            # Where each run stands now, one UPDATE for the batch (in id order, as the claim locked them).
            moved = sorted((i, *where) for i, where in self.at_step.items()
                           if where[2] is not None or where[:2] != self.claimed[i])
            if moved:
                ids, steps, phases, dues = zip(*moved, strict=True)
                cursor.execute(
                    f"UPDATE {RUN} r SET step_id = u.step_id, phase = u.phase, next_due_at = u.due "
                    "FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::timestamptz[]) "
                    "AS u(id, step_id, phase, due) WHERE r.id = u.id",
                    [array(ids), array(steps), array(phases), array(dues)])
        self.report.done += _finish(self.done, state=RunState.DONE, reason="completed", now=now)
        self.report.exited += _finish(self.exits, state=RunState.EXITED, reason="exit_step", now=now)

    def _branches(self) -> None:
        """This round's branch steps, one statement per kind of condition for all of them."""
        for condition, groups in sorted(self.branches.items()):
            rows = [(r.id, arg) for group, step in groups for arg in (_condition_arg(step.config),) for r in group]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT r.id FROM unnest(%s::bigint[], %s::bigint[]) AS u(run_id, arg) JOIN {RUN} r "
                    f"ON r.id = u.run_id WHERE {_condition_sql(condition)}",
                    [array([i for i, _a in rows]), array([a for _i, a in rows])])
                met = {row[0] for row in cursor.fetchall()}
            for group, step in groups:
                self.record(group, step, [(StepOutcome.YES if r.id in met else StepOutcome.NO, "") for r in group])
                self.move([r for r in group if r.id in met], step, self.at(step, int(step.config["goto"])))
                self.move([r for r in group if r.id not in met], step, self.after(step))
        self.branches = {}

    def _deliveries(self) -> None:
        """Every send step's deliveries through the campaigns' fan-out, one statement for the batch
        (per channel), each run's outcome from what it wrote."""
        from campaigns.models import DeliveryState
        from campaigns.services import fanout

        if not self.sends:
            return
        written = fanout.insert_deliveries_many(lists=[
            (campaign, [r.member_id for r in rows], campaign.store_id)
            for rows, step in self.sends for campaign in (self.campaigns[step.pk],)], now=self.now)
        for rows, step in self.sends:
            campaign_id = self.campaigns[step.pk].pk
            outcomes = []
            for r in rows:
                state, reason = written.get((campaign_id, r.member_id), (None, "already_sent"))
                if state == DeliveryState.PENDING:
                    outcomes.append((StepOutcome.QUEUED, ""))
                    self.report.queued += 1
                else:
                    outcomes.append((StepOutcome.SKIPPED, reason or str(state)))
                    self.report.skipped += 1
            self.record(rows, step, outcomes)

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
    p.wait(waiting, step, [wake_at(step.config, p.now, r.trigger_at) for r in waiting])
    p.record(waiting, step, [(StepOutcome.WAITED, "")] * len(waiting))
    p.move([r for r in rows if r.phase != 0], step, p.after(step))


def _links(step_ids: list[int], month: dt.date) -> dict:
    return {link.step_id: link.campaign for link in JourneyCampaign.objects.select_related("campaign")
            .filter(step_id__in=step_ids, month=month)}


def _campaigns(steps: list[JourneyStep], now: dt.datetime) -> dict:
    """The send steps' campaigns of this month, made when a step's first message is due, sending: read
    at once, and those missing made at once under each step's advisory lock."""
    from campaigns import partitions
    from campaigns.models import Campaign, CampaignStatus

    month = partitions.month_of(now)
    found = _links([s.pk for s in steps], month)
    missing = sorted(s.pk for s in steps if s.pk not in found)
    if missing:
        with connection.cursor() as cursor:
            # In step order, so that workers making the same steps' campaigns wait for each other, never
            # deadlock; then read again: what another worker made meanwhile is theirs.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, s) FROM unnest(%s::int[]) AS s",
                           [ADVISORY, array(missing)])
        found.update(_links(missing, month))
        by_id = {s.pk: s for s in steps}
        new = [by_id[pk] for pk in missing if pk not in found]
        made = Campaign.objects.bulk_create([Campaign(
            name=f"{step.journey.name[:60]} · {step.position} · {month:%Y-%m}", store_id=step.journey.store_id,
            channel=step.config["channel"], content=step.config["content"], status=CampaignStatus.SENDING,
            scheduled_at=now, started_at=now, send_month=month, created_by_label=f"journey:{step.journey_id}")
            for step in new])
        JourneyCampaign.objects.bulk_create([JourneyCampaign(step=step, month=month, campaign=campaign)
                                             for step, campaign in zip(new, made, strict=True)])
        found.update({step.pk: campaign for step, campaign in zip(new, made, strict=True)})
    finished = sorted(c.pk for c in found.values() if c.status == CampaignStatus.DONE)
    if finished:  # finished since their last messages: open again
        Campaign.objects.filter(pk__in=finished, status=CampaignStatus.DONE).update(
            status=CampaignStatus.SENDING, finished_at=None)
    return found


def _send(rows: list[Due], step: JourneyStep, p: Pass) -> None:
    p.sends.append((rows, step))  # written with the batch's other send steps (Pass._deliveries)
    p.move(rows, step, p.after(step))


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
    due_at = p.now + dt.timedelta(hours=config.get("due_hours") or 24)
    code = "" if kind == TaskKind.CUSTOM else kind
    title, message = config.get("title") or "", config.get("message") or ""
    priority = config.get("priority") or TaskPriority.NORMAL
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
            kind=kind, store_id=r.store_id, member_id=r.member_id, assignee_id=assignee, due_at=due_at, code=code,
            params=params, title=title, message=message, priority=priority, dedupe_key=f"journey:{r.id}:{step.pk}"))
    p.task_groups.append((rows, step, outcomes, task_rows))  # created with the batch's others (Pass._tasks)
    p.move(rows, step, p.after(step))


def _condition_arg(config: dict) -> int | None:
    """A branch condition's argument (a tag, a tier's rank), where it has one."""
    if config["condition"] == "tag":
        return int(config["tag"])
    if config["condition"] == "tier":
        return int(config["rank"])
    return None


def _condition_sql(condition: str) -> str:
    """The condition on run `r`, with its argument as `u.arg`."""
    from campaigns.links import sql as links_sql

    if condition == "tag":
        return (f"EXISTS (SELECT 1 FROM {members_sql.MEMBER_TAG} mt WHERE mt.member_id = r.member_id "
                "AND mt.tag_id = u.arg)")
    if condition == "tier":
        return (f"EXISTS (SELECT 1 FROM {tiers_sql.MEMBER_TIER} t JOIN {tiers_sql.TIER_LEVEL} l ON l.id = t.level_id "
                "WHERE t.member_id = r.member_id AND l.rank >= u.arg)")
    if condition == "ordered":
        return (f"EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = r.member_id "
                "AND o.placed_at >= r.entered_at AND o.status <> 'refunded')")
    if condition == "clicked":
        return (f"EXISTS (SELECT 1 FROM {links_sql.CLICK} c WHERE c.member_id = r.member_id "
                "AND c.clicked_at >= r.entered_at AND c.campaign_id IN ("
                f"SELECT jc.campaign_id FROM {JOURNEY_CAMPAIGN} jc "
                f"JOIN {STEP} s ON s.id = jc.step_id WHERE s.journey_id = r.journey_id))")
    if condition == "replied":  # an SMS reply to one of this journey's messages (campaigns.replies)
        from campaigns.replies import sql as replies_sql

        return (f"EXISTS (SELECT 1 FROM {replies_sql.REPLY} x WHERE x.member_id = r.member_id "
                "AND x.received_at >= r.entered_at AND x.campaign_id IN ("
                f"SELECT jc.campaign_id FROM {JOURNEY_CAMPAIGN} jc "
                f"JOIN {STEP} s ON s.id = jc.step_id WHERE s.journey_id = r.journey_id))")
    raise ValueError(f"unknown condition {condition!r}")


def _branch(rows: list[Due], step: JourneyStep, p: Pass) -> None:
    condition = step.config["condition"]
    _condition_sql(condition)  # an unknown condition fails here, before anything is written
    p.branches.setdefault(condition, []).append((rows, step))  # settled with the round's others


def _exit(rows: list[Due], step: JourneyStep, p: Pass) -> None:
    p.record(rows, step, [(StepOutcome.EXITED, "")] * len(rows))
    p.end(rows, step)
    p.exits += [r.id for r in rows]


HANDLERS = {StepKind.WAIT: _wait, StepKind.SEND: _send, StepKind.TASK: _task, StepKind.BRANCH: _branch,
            StepKind.EXIT: _exit}


# --- claiming ----------------------------------------------------------------------------------------------

def _claim(now: dt.datetime, limit: int) -> list[Due]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id, r.journey_id, r.version, r.member_id, m.home_store_id, r.step_id, r.phase, "
            f"({members_sql.live('m')}), r.trigger_at, r.store_id FROM {RUN} r "
            f"JOIN {JOURNEY} j ON j.id = r.journey_id JOIN {members_sql.MEMBER} m ON m.id = r.member_id "
            "WHERE r.state = 'active' AND r.next_due_at <= %s AND j.state = 'live' "
            "ORDER BY r.next_due_at LIMIT %s FOR UPDATE OF r SKIP LOCKED", [now, limit])
        return [Due(*row) for row in cursor.fetchall()]


@transaction.atomic
def advance_batch(*, now: dt.datetime, limit: int = BATCH, report: TickReport | None = None) -> int:
    """Claim up to `limit` due runs and carry each one through its steps until it waits or ends; the
    runs claimed."""
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
    while rest:  # a round: every run's current step, the runs' steps of a kind together
        groups: dict[int, list[Due]] = {}
        for d in rest:
            groups.setdefault(d.step_id, []).append(d)
        _prepare(p, groups)
        for step_id, rows in sorted(groups.items()):
            step = p.by_id[step_id]
            report.steps += len(rows)
            HANDLERS[step.kind](rows, step, p)
        rest = p.next_round()
    p.flush()
    return len(due)


def _prepare(p: Pass, groups: dict[int, list[Due]]) -> None:
    """What a round's steps read once for all: the send steps' campaigns, the task steps' members'
    consent and named staff."""
    from journeys.services import tasks
    from members.services import consent
    from scrm.models import User

    sends = [p.by_id[i] for i in groups if p.by_id[i].kind == StepKind.SEND and i not in p.campaigns]
    if sends:
        p.campaigns.update(_campaigns(sends, p.now))
    task_members = {d.member_id for i, rows in groups.items() if p.by_id[i].kind == StepKind.TASK for d in rows}
    if task_members:
        p.reachable |= set(consent.can_message(sorted(task_members), tasks.CONSENT_CHANNEL))
    named = {p.by_id[i].config.get("assignee") for i in groups if p.by_id[i].kind == StepKind.TASK} \
        - {None} - set(p.staff)
    if named:
        p.staff.update(User.objects.filter(pk__in=named).only("pk", "is_active", "store_id", "role").in_bulk())


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
