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
- a branch goes to its later step when the condition holds, else on to the next;
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


# --- history and moves -------------------------------------------------------------------------------------

def _history(rows: list[Due], step: JourneyStep, outcomes: list[tuple[str, str]], now: dt.datetime) -> None:
    """One history row per run reaching `step` (outcome, reason); a run reaches a step once."""
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RUN_STEP} (run_id, step_id, store_id, at, outcome, reason) "
            f"SELECT u.run_id, %s, r.store_id, %s, u.outcome, u.reason FROM unnest(%s::bigint[], %s::text[], "
            f"%s::text[]) AS u(run_id, outcome, reason) JOIN {RUN} r ON r.id = u.run_id "
            "ON CONFLICT (run_id, step_id) DO NOTHING",
            [step.pk, now, array([r.id for r in rows]), array([o for o, _ in outcomes]),
             array([reason for _, reason in outcomes])])


def _move(rows: list[Due], target: JourneyStep | None, now: dt.datetime, report: TickReport) -> None:
    """Runs go on to `target` (due now), or are done when there is no step after."""
    ids = [r.id for r in rows]
    if not ids:
        return
    if target is None:
        report.done += _finish(ids, state=RunState.DONE, reason="completed", now=now)
        return
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {RUN} SET step_id = %s, phase = 0, next_due_at = %s WHERE id = ANY(%s)",
                       [target.pk, now, array(ids)])


class Steps:
    """The steps of the (journey, version) pairs a batch touches, by position."""

    def __init__(self, due: list[Due]) -> None:
        pairs = {(d.journey_id, d.version) for d in due}
        self.by_id: dict[int, JourneyStep] = {}
        self.by_position: dict[tuple[int, int, int], JourneyStep] = {}
        journeys = Journey.objects.in_bulk({j for j, _ in pairs})
        if not pairs:
            return
        match = Q()
        for journey_id, version in pairs:
            match |= Q(journey_id=journey_id, version=version)
        rows = JourneyStep.objects.filter(match)
        for step in rows:
            step.journey = journeys[step.journey_id]
            self.by_id[step.pk] = step
            self.by_position[(step.journey_id, step.version, step.position)] = step

    def after(self, step: JourneyStep) -> JourneyStep | None:
        return self.by_position.get((step.journey_id, step.version, step.position + 1))

    def at(self, step: JourneyStep, position: int) -> JourneyStep | None:
        return self.by_position.get((step.journey_id, step.version, position))


# --- steps -------------------------------------------------------------------------------------------------

def _at_time(config: dict) -> dt.time:
    return dt.time.fromisoformat(config.get("at") or "09:00")


def wake_at(config: dict, now: dt.datetime) -> dt.datetime | None:
    """When a wait that starts `now` ends, for the modes that do not depend on the run (else None)."""
    mode = config.get("mode", "duration")
    if mode == "duration":
        return now + dt.timedelta(days=config.get("days") or 0, hours=config.get("hours") or 0,
                                  minutes=config.get("minutes") or 0)
    local = timezone.localtime(now)
    if mode == "weekday":
        at = _at_time(config)
        ahead = (int(config["weekday"]) - local.weekday()) % 7
        candidate = timezone.make_aware(dt.datetime.combine(local.date() + dt.timedelta(days=ahead), at))
        return candidate if candidate > now else candidate + dt.timedelta(days=7)
    if mode == "date":
        return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(config["date"]), _at_time(config)))
    return None


def _wait(rows: list[Due], step: JourneyStep, now: dt.datetime, steps: Steps, report: TickReport) -> None:
    waiting = [r for r in rows if r.phase == 0]
    over = [r for r in rows if r.phase != 0]
    if waiting:
        ids = array([r.id for r in waiting])
        wake = wake_at(step.config, now)
        with connection.cursor() as cursor:
            if wake is not None:
                cursor.execute(f"UPDATE {RUN} SET phase = 1, next_due_at = greatest(%s, %s) WHERE id = ANY(%s)",
                               [wake, now, ids])
            else:  # day N after the trigger, at a time of day, in the brand's time zone
                tz = timezone.get_current_timezone_name()
                cursor.execute(
                    f"UPDATE {RUN} SET phase = 1, next_due_at = greatest(%s, "
                    "(((trigger_at AT TIME ZONE %s)::date + %s::int) + %s::time) AT TIME ZONE %s) WHERE id = ANY(%s)",
                    [now, tz, int(step.config["days"]), _at_time(step.config), tz, ids])
        _history(waiting, step, [(StepOutcome.WAITED, "")] * len(waiting), now)
    _move(over, steps.after(step), now, report)


def _campaign(step: JourneyStep, now: dt.datetime):
    """The step's campaign of this month (made when its first message is due), sending."""
    from campaigns import partitions
    from campaigns.models import Campaign, CampaignStatus

    month = partitions.month_of(now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY, step.pk])
    link = JourneyCampaign.objects.select_related("campaign").filter(step=step, month=month).first()
    if link is not None:
        campaign = link.campaign
        if campaign.status == CampaignStatus.DONE:  # finished since its last messages: open again
            Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING, finished_at=None)
            campaign.status = CampaignStatus.SENDING
        return campaign
    journey = step.journey
    campaign = Campaign.objects.create(
        name=f"{journey.name[:60]} · {step.position} · {month:%Y-%m}", store_id=journey.store_id,
        channel=step.config["channel"], content=step.config["content"], status=CampaignStatus.SENDING,
        scheduled_at=now, started_at=now, send_month=month, created_by_label=f"journey:{journey.pk}")
    JourneyCampaign.objects.create(step=step, month=month, campaign=campaign)
    return campaign


def _send(rows: list[Due], step: JourneyStep, now: dt.datetime, steps: Steps, report: TickReport) -> None:
    from campaigns import channels
    from campaigns.models import DeliveryState
    from campaigns.services import fanout
    from members.models import ConsentPurpose

    campaign = _campaign(step, now)
    channel = channels.get(campaign.channel)
    sql = fanout._insert_sql(channel, "SELECT unnest(%(members)s::bigint[]) AS id") + \
        " RETURNING member_id, state, reason"
    params = {"members": array([r.member_id for r in rows]), "month": campaign.send_month, "campaign": campaign.pk,
              "now": now, "holdout": 0, "store": campaign.store_id,
              "minor_cutoff": fanout._minor_cutoff(timezone.localtime(now).date()),
              "guardian": ConsentPurpose.GUARDIAN, "marketing": ConsentPurpose.MARKETING,
              "channel": channel.consent_channel}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = {member: (state, reason) for member, state, reason in cursor.fetchall()}
    outcomes = []
    for r in rows:
        state, reason = written.get(r.member_id, (None, "already_sent"))
        if state == DeliveryState.PENDING:
            outcomes.append((StepOutcome.QUEUED, ""))
            report.queued += 1
        else:
            outcomes.append((StepOutcome.SKIPPED, reason or str(state)))
            report.skipped += 1
    _history(rows, step, outcomes, now)
    _move(rows, steps.after(step), now, report)


def _assignee(config: dict, store_id: int) -> tuple[int | None, str]:
    """The step's named assignee for a task in `store_id`, or (None, why): the owner or the pool takes it."""
    from scrm.models import STORE_ROLES, User

    pk = config.get("assignee")
    if pk is None:
        return None, ""
    user = User.objects.filter(pk=pk).only("pk", "is_active", "store_id", "role").first()
    if user is None or not user.is_active:
        return None, "assignee_left"
    if user.role not in STORE_ROLES or user.store_id != store_id:
        return None, "assignee_elsewhere"
    return user.pk, ""


def _task(rows: list[Due], step: JourneyStep, now: dt.datetime, steps: Steps, report: TickReport) -> None:
    from journeys.services import tasks
    from members.services import consent

    config = step.config
    reachable = set(consent.can_message([r.member_id for r in rows], tasks.CONSENT_CHANNEL))
    kind = config.get("kind") or TaskKind.FOLLOW_UP
    params = {k: str(v) for k, v in (step.journey.trigger_params or {}).items() if k in ("category", "days")}
    task_rows, outcomes = [], []
    for r in rows:
        if r.store_id is None:
            outcomes.append((StepOutcome.SKIPPED, "no_store"))
            continue
        if r.member_id not in reachable:
            outcomes.append((StepOutcome.SKIPPED, "no_consent"))
            continue
        assignee, why = _assignee(config, r.store_id)
        outcomes.append((StepOutcome.TASK, why))
        task_rows.append(tasks.TaskRow(
            kind=kind, store_id=r.store_id, member_id=r.member_id, assignee_id=assignee,
            due_at=now + dt.timedelta(hours=config.get("due_hours") or 24),
            code="" if kind == TaskKind.CUSTOM else kind, params=params, title=config.get("title") or "",
            message=config.get("message") or "", priority=config.get("priority") or TaskPriority.NORMAL,
            dedupe_key=f"journey:{r.id}:{step.pk}"))
    if task_rows:
        created = tasks.create_tasks(rows=task_rows, actor=SystemActor(f"journey:{step.journey_id}"),
                                     source=TaskSource.JOURNEY)
        report.tasks += created.created
    report.skipped += sum(1 for o, _ in outcomes if o == StepOutcome.SKIPPED)
    _history(rows, step, outcomes, now)
    _move(rows, steps.after(step), now, report)


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
    raise ValueError(f"unknown condition {condition!r}")


def _branch(rows: list[Due], step: JourneyStep, now: dt.datetime, steps: Steps, report: TickReport) -> None:
    condition, params = _condition_sql(step.config)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.id FROM {RUN} r WHERE r.id = ANY(%s) AND {condition}",
                       [array([r.id for r in rows]), *params])
        met = {row[0] for row in cursor.fetchall()}
    _history(rows, step, [(StepOutcome.YES if r.id in met else StepOutcome.NO, "") for r in rows], now)
    _move([r for r in rows if r.id in met], steps.at(step, int(step.config["goto"])), now, report)
    _move([r for r in rows if r.id not in met], steps.after(step), now, report)


def _exit(rows: list[Due], step: JourneyStep, now: dt.datetime, steps: Steps, report: TickReport) -> None:
    _history(rows, step, [(StepOutcome.EXITED, "")] * len(rows), now)
    report.exited += _finish([r.id for r in rows], state=RunState.EXITED, reason="exit_step", now=now)


HANDLERS = {StepKind.WAIT: _wait, StepKind.SEND: _send, StepKind.TASK: _task, StepKind.BRANCH: _branch,
            StepKind.EXIT: _exit}


# --- claiming ----------------------------------------------------------------------------------------------

def _claim(now: dt.datetime, limit: int) -> list[Due]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id, r.journey_id, r.version, r.member_id, m.home_store_id, r.step_id, r.phase, "
            f"({members_sql.live('m')}) FROM {RUN} r JOIN {JOURNEY} j ON j.id = r.journey_id "
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
    steps = Steps(rest)
    groups: dict[int, list[Due]] = {}
    for d in rest:
        groups.setdefault(d.step_id, []).append(d)
    for step_id, rows in sorted(groups.items()):
        step = steps.by_id[step_id]
        report.steps += len(rows)
        HANDLERS[step.kind](rows, step, now, steps, report)
    return len(due)


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
