"""Recalculating tiers, for everyone or some members.

Recalculation is one family of set-based statements: a read query (parallel-safe, so PostgreSQL can
use every core) aggregates the qualifying value per member over the window, turns it into a level
by the thresholds, applies the floor and the downgrade policy, and keeps only the members whose row
would change, in a temporary table; then one INSERT ... ON CONFLICT writes those rows and one INSERT
writes their history. A transaction-scoped advisory lock serialises recalculations, so two at once
(the nightly run and an order's) never both record the same move.

The nightly run of everyone is incremental: each run records what it covered (TierRun), and the
next one reads only the members whose row can have moved since (the basis's changed members, new
members, floors, pending downgrades), through the same per-members statements. The first run, and
the first after a change of the ladder (levels, thresholds, basis, window, policy), read everyone."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from loyalty.tiers import bases
from loyalty.tiers import sql as tiers_sql
from loyalty.tiers.models import ChangeReason, DowngradePolicy, TierRun
from loyalty.tiers.services.ladder import get_ladder
from members import sql as members_sql
from scrm import events

logger = logging.getLogger(__name__)

TIER_CHANGED = "member.tier_changed"
LOCK_KEY = 0x54494552  # "TIER": one advisory lock for every recalculation and floor change
# How far before a run (or before the oldest transaction open at the time) the next run starts
# reading changes: a row's updated_at is written before its transaction commits, app servers'
# clocks drift, and re-reading an hour of changes costs next to nothing.
CUTOFF_MARGIN = datetime.timedelta(hours=1)
RUNS_KEPT = 400


@dataclass(frozen=True)
class RecalcResult:
    members_written: int = 0
    upgrades: int = 0
    downgrades: int = 0
    member_ids_moved: tuple = ()
    full: bool = False  # a run of everyone that read every member (not only those changed since)
    candidates: int = 0  # members read by an incremental run


def next_period_end(now: datetime.datetime, month: int, day: int) -> datetime.datetime:
    """The first moment after the period that contains `now` ends: midnight after (month, day),
    local time."""
    local = timezone.localtime(now)
    for year in (local.year, local.year + 1):
        end = timezone.make_aware(datetime.datetime(year, month, day) + datetime.timedelta(days=1))
        if end > now:
            return end
    raise AssertionError("unreachable")


def _levels_case(thresholds: list[Decimal]) -> tuple[str, dict]:
    # A CASE over a handful of thresholds is cheaper per row than any join or lookup.
    parts = [f"WHEN c.value >= %(t{rank})s THEN {rank}" for rank in range(len(thresholds), 0, -1)]
    params = {f"t{rank}": thresholds[rank - 1] for rank in range(1, len(thresholds) + 1)}
    return "CASE " + " ".join(parts) + " ELSE 0 END", params


def _decision_sql(policy: str, reason: str) -> tuple[str, str, str]:
    """SQL of (new rank, new downgrade_due, reason) from e.target, e.cur_rank, e.cur_due."""
    # After orders changed, a move down means money went back (or an order moved to another member).
    reason_sql = (
        "CASE WHEN e.target < e.cur_rank THEN 'refund' ELSE %(reason)s END"
        if (reason == ChangeReason.ORDER)
        else "%(reason)s"
    )
    if policy == DowngradePolicy.NONE:
        return "e.target", "NULL::timestamptz", reason_sql
    if policy == DowngradePolicy.NEVER:
        return "greatest(e.target, e.cur_rank)", "NULL::timestamptz", reason_sql
    due_passed = "(e.cur_due IS NOT NULL AND e.cur_due <= %(now)s)"
    expired = ChangeReason.GRACE_EXPIRED if policy == DowngradePolicy.GRACE else ChangeReason.PERIOD_END
    rank = f"CASE WHEN e.target >= e.cur_rank OR {due_passed} THEN e.target ELSE e.cur_rank END"
    due = (
        f"CASE WHEN e.target >= e.cur_rank OR {due_passed} THEN NULL::timestamptz ELSE coalesce(e.cur_due, %(due)s) END"
    )
    reason_sql = f"CASE WHEN e.target < e.cur_rank AND {due_passed} THEN '{expired.value}' ELSE {reason_sql} END"
    return rank, due, reason_sql


# Step 3 (writes): the changed rows, then the history of those whose level moved.
_UPSERT_SQL = f"""
    INSERT INTO {tiers_sql.MEMBER_TIER} (member_id, level_id, earned_level_id, floor_level_id, floor_reason,
                                         qualifying_value, since, downgrade_due, computed_at)
    SELECT r.member_id, (%(ids)s::bigint[])[r.new_rank], (%(ids)s::bigint[])[r.earned_rank], NULL, '',
           r.value, %(now)s, r.new_due, %(now)s
    FROM tier_recalc r ORDER BY r.member_id
    ON CONFLICT (member_id) DO UPDATE SET
        level_id = EXCLUDED.level_id, earned_level_id = EXCLUDED.earned_level_id,
        qualifying_value = EXCLUDED.qualifying_value, downgrade_due = EXCLUDED.downgrade_due,
        computed_at = EXCLUDED.computed_at,
        since = CASE WHEN {tiers_sql.MEMBER_TIER}.level_id IS DISTINCT FROM EXCLUDED.level_id
                     THEN EXCLUDED.since ELSE {tiers_sql.MEMBER_TIER}.since END
"""
_HISTORY_SQL = f"""
    INSERT INTO {tiers_sql.TIER_CHANGE} (member_id, from_level_id, to_level_id, from_name, to_name, from_rank,
                                         to_rank, reason, qualifying_value, note, changed_by_id, actor_label,
                                         created_at)
    SELECT r.member_id, (%(ids)s::bigint[])[r.cur_rank], (%(ids)s::bigint[])[r.new_rank],
           coalesce((%(names)s::text[])[r.cur_rank], ''), coalesce((%(names)s::text[])[r.new_rank], ''),
           r.cur_rank, r.new_rank, r.reason, r.value, %(note)s, %(actor)s, %(label)s, %(now)s
    FROM tier_recalc r WHERE r.new_rank <> r.cur_rank
    RETURNING member_id, to_rank > from_rank
"""


def _downgrade_due(ladder, now: datetime.datetime) -> datetime.datetime | None:
    """When a move down that the policy holds back from now on takes effect (None: no hold)."""
    if ladder.downgrade_policy == DowngradePolicy.GRACE:
        return now + datetime.timedelta(days=ladder.grace_days)
    if ladder.downgrade_policy == DowngradePolicy.PERIOD_END:
        return next_period_end(now, ladder.period_end_month, ladder.period_end_day)
    return None


def _statement_params(*, ladder, levels, member_ids, reason, actor, actor_label, note, now) -> dict:
    """The parameters every statement of one recalculation shares."""
    # The level a member with no value at all holds: the highest whose threshold is zero, if any.
    zero_rank = max((rank for rank, lv in enumerate(levels, 1) if lv.threshold <= 0), default=0)
    return {
        "ids": [lv.pk for lv in levels],
        "names": [lv.name for lv in levels],
        "now": now,
        "since": now - datetime.timedelta(days=ladder.window_days),
        "until": now + datetime.timedelta(days=1),
        "currency": settings.SIYU_CURRENCIES[0],
        "member_ids": member_ids,
        "due": _downgrade_due(ladder, now),
        "reason": reason,
        "actor": getattr(actor, "pk", None) if getattr(actor, "api_key", None) is None else None,
        "label": actor_label or (str(actor.api_key) if getattr(actor, "api_key", None) is not None else ""),
        "note": note[:200],
        "zero_id": levels[zero_rank - 1].pk if zero_rank else None,
    }


def _candidates_sql(levels, basis, *, for_members: bool) -> str:
    """Step 1 (read only, parallel-safe): the live members whose row may change. The level a value
    earns is worked out once per member with a value (in the aggregate's output), as a level id
    compared with the stored ids, so the pass over every member costs a few comparisons of plain
    columns. A row can only change if it is new, its value or earned level moved, its held level
    is not the earned one, or a floor or a pending downgrade is involved: step 2 decides those
    few exactly."""
    members_filter = "AND m.id = ANY(%(member_ids)s) " if for_members else ""
    earned_id_sql = (
        "CASE "
        + " ".join(f"WHEN b.value >= %(t{rank})s THEN {levels[rank - 1].pk}" for rank in range(len(levels), 0, -1))
        + " END"
    )
    return f"""
        CREATE TEMP TABLE tier_cand ON COMMIT DROP AS
        SELECT m.id AS member_id, v.value, t.member_id IS NOT NULL AS has_row, t.qualifying_value, t.level_id,
               t.earned_level_id, t.floor_level_id, t.downgrade_due
        FROM {members_sql.MEMBER} m
        LEFT JOIN (SELECT b.member_id, b.value, {earned_id_sql} AS earned_id
                   FROM ({basis.sql(for_members=for_members)}) AS b OFFSET 0) AS v ON v.member_id = m.id
        LEFT JOIN {tiers_sql.MEMBER_TIER} t ON t.member_id = m.id
        WHERE {members_sql.live("m")} {members_filter}
          AND (t.member_id IS NULL OR t.floor_level_id IS NOT NULL OR t.downgrade_due IS NOT NULL
               OR coalesce(v.value, 0) <> t.qualifying_value
               OR t.level_id IS DISTINCT FROM (CASE WHEN v.member_id IS NULL THEN %(zero_id)s ELSE v.earned_id END)
               OR t.earned_level_id IS DISTINCT FROM
                  (CASE WHEN v.member_id IS NULL THEN %(zero_id)s ELSE v.earned_id END))
    """


def _changes_sql(case_sql: str, policy: str, reason: str) -> str:
    """Step 2 (read only, on the candidates): the members whose row changes, with the new row."""
    rank_sql, due_sql, reason_sql = _decision_sql(policy, reason)
    return f"""
        CREATE TEMP TABLE tier_recalc ON COMMIT DROP AS
        WITH cand AS (
            SELECT c.member_id, coalesce(c.value, 0)::numeric(14, 2) AS value,
                   c.has_row, c.qualifying_value AS cur_value,
                   coalesce(array_position(%(ids)s::bigint[], c.level_id), 0) AS cur_rank,
                   coalesce(array_position(%(ids)s::bigint[], c.earned_level_id), 0) AS cur_earned,
                   coalesce(array_position(%(ids)s::bigint[], c.floor_level_id), 0) AS floor_rank,
                   c.downgrade_due AS cur_due
            FROM tier_cand c
        ),
        earned AS (SELECT c.*, {case_sql} AS earned_rank FROM cand c),
        e AS (SELECT earned.*, greatest(earned_rank, floor_rank) AS target FROM earned),
        d AS (
            SELECT e.member_id, e.value, e.has_row, e.cur_rank, e.earned_rank, e.cur_value, e.cur_earned, e.cur_due,
                   {rank_sql} AS new_rank, {due_sql} AS new_due, {reason_sql} AS reason
            FROM e
        )
        SELECT d.member_id, d.value, d.cur_rank, d.new_rank, d.earned_rank, d.new_due, d.reason, d.has_row
        FROM d
        WHERE CASE WHEN d.has_row THEN d.new_rank <> d.cur_rank OR d.value <> d.cur_value
                                   OR d.earned_rank <> d.cur_earned OR d.new_due IS DISTINCT FROM d.cur_due
                   ELSE d.new_rank > 0 END
    """


def _level_json(rank: str) -> str:
    return (f"CASE WHEN {rank} = 0 THEN NULL ELSE jsonb_build_object("
            f"'id', (%s::bigint[])[{rank}], 'rank', {rank}, 'name', (%s::text[])[{rank}]) END")


def _emit_moves(params: dict) -> int:
    """member.tier_changed for each member whose level moved (tier_recalc's rows that the history
    recorded), in one INSERT ... SELECT."""
    return events.emit_sql(TIER_CHANGED, f"""
        SELECT r.member_id, m.home_store_id,
               jsonb_build_object('from', {_level_json("r.cur_rank")}, 'to', {_level_json("r.new_rank")},
                                  'reason', r.reason)
        FROM tier_recalc r JOIN {members_sql.MEMBER} m ON m.id = r.member_id
        WHERE r.new_rank <> r.cur_rank ORDER BY r.member_id""",
        [params["ids"], params["names"], params["ids"], params["names"]], at=params["now"])


def _run(cursor, candidates_sql: str, changes_sql: str, params: dict, *, for_members: bool) -> tuple[int, list]:
    """Steps 1 to 3, under the recalculation lock the caller holds: (rows written, [(member id,
    moved up), ...])."""
    cursor.execute("DROP TABLE IF EXISTS pg_temp.tier_cand, pg_temp.tier_recalc")
    if for_members:
        cursor.execute(candidates_sql, params)
    else:
        # Everyone: members and their tiers are read once each in member order through their
        # primary keys and merged with the sorted sums. Hash joins of every member (what the
        # planner picks) cost about as much again as the aggregate and spill past work_mem at
        # ten million members. Measured in tests/bench/tiers_bench.py.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute(candidates_sql, params)
        cursor.execute("RESET enable_hashjoin")
    cursor.execute(changes_sql, params)
    written = cursor.rowcount
    moves = []
    if written:
        cursor.execute(_UPSERT_SQL, params)
        cursor.execute(_HISTORY_SQL, params)
        moves = cursor.fetchall()
        if moves:
            _emit_moves(params)
    cursor.execute("DROP TABLE pg_temp.tier_cand, pg_temp.tier_recalc")
    return written, moves


def _ladder_key(ladder, levels, currency: str) -> str:
    """What a member's row depends on besides their orders: when it differs from the last run's,
    everyone is read again."""
    state = [
        ladder.basis,
        ladder.window_days,
        ladder.downgrade_policy,
        ladder.period_end_month,
        ladder.period_end_day,
        ladder.grace_days,
        currency,
        [(lv.pk, lv.rank, str(lv.threshold)) for lv in levels],
    ]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()


# The next run reads changes from here: the earlier of this run's time and the start of the oldest
# other transaction still open (its rows, when it commits, carry times from before now), less the
# margin; and the highest member id now, so members inserted since are read even when their
# created_at is back-dated (an import of joining dates).
_CUTOFF_SQL = f"""
    SELECT least(%(now)s::timestamptz, min(a.xact_start)) - %(margin)s::interval,
           (SELECT coalesce(max(m.id), 0) FROM {members_sql.MEMBER} m)
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
      AND a.backend_type = 'client backend'
"""


def _changed_members_sql(basis) -> str:
    """The members whose row can differ from the last run's: the basis's (orders changed since the
    cut-off, orders between the two windows), members created since, and everyone with a floor or
    a pending downgrade (as the full run reads them). Merged and erased members need nothing:
    recalculation skips them, and a survivor's orders moved (their updated_at is set)."""
    return f"""
        SELECT DISTINCT c.member_id FROM (
            {basis.changed_sql()}
            UNION ALL SELECT m.id FROM {members_sql.MEMBER} m WHERE m.created_at >= %(cutoff)s
            UNION ALL SELECT m.id FROM {members_sql.MEMBER} m WHERE m.id > %(prev_max_id)s
            UNION ALL SELECT t.member_id FROM {tiers_sql.MEMBER_TIER} t WHERE t.floor_level_id IS NOT NULL
            UNION ALL SELECT t.member_id FROM {tiers_sql.MEMBER_TIER} t WHERE t.downgrade_due IS NOT NULL
        ) AS c(member_id)
        ORDER BY 1
    """


def _plan_everyone(cursor, *, basis, key: str, params: dict, full: bool) -> tuple[dict, list | None]:
    """A run of everyone: the TierRun fields to record and, for an incremental run, the members to
    read (None: read everyone). Runs under the recalculation lock."""
    cursor.execute(_CUTOFF_SQL, {"now": params["now"], "margin": CUTOFF_MARGIN})
    cutoff, max_member_id = cursor.fetchone()
    run = {
        "at": params["now"],
        "cutoff": cutoff,
        "window_since": params["since"],
        "window_until": params["until"],
        "max_member_id": max_member_id,
        "ladder_key": key,
    }
    last = TierRun.objects.order_by("-id").first()
    if (
        full
        or last is None
        or basis.changed_sql is None
        or last.ladder_key != key
        or params["now"] < last.at
        or params["since"] < last.window_since
    ):
        return {**run, "full": True}, None
    cursor.execute(
        _changed_members_sql(basis),
        {
            **params,
            "cutoff": last.cutoff,
            "prev_since": last.window_since,
            "prev_until": last.window_until,
            "prev_max_id": last.max_member_id,
        },
    )
    return {**run, "full": False}, [row[0] for row in cursor.fetchall()]


def recalculate_tiers(
    *,
    member_ids=None,
    reason: str = ChangeReason.NIGHTLY,
    actor=None,
    actor_label: str = "",
    note: str = "",
    now: datetime.datetime | None = None,
    full: bool = False,
) -> RecalcResult:
    """Bring tiers up to date for `member_ids` (None: every live member). Merged and erased members
    are skipped. Upgrades happen at once; downgrades follow the ladder's policy. Each move is
    recorded in TierChange with `reason` (a prompt recalculation after orders records a move down
    as "refund"; a move down the policy held back records "grace_expired" / "period_end").

    For everyone, only the members whose row can have moved since the last such run are read,
    unless it is the first, the ladder changed since, or `full` asks to read everyone; the rows
    written are the same either way."""
    if reason not in ChangeReason.values:
        raise ValueError(f"unknown reason {reason!r}")
    now = now or timezone.now()
    ladder = get_ladder()
    levels = list(ladder.levels.order_by("rank")) if ladder else []
    if not levels:
        return RecalcResult()
    basis = bases.get_basis(ladder.basis)
    if basis is None:
        logger.warning("tier ladder qualifies by %r, which no app provides; nothing recalculated", ladder.basis)
        return RecalcResult()
    if member_ids is not None:
        member_ids = sorted({int(i) for i in member_ids})
        if not member_ids:
            return RecalcResult()
    case_sql, case_params = _levels_case([lv.threshold for lv in levels])
    params = {
        **_statement_params(
            ladder=ladder,
            levels=levels,
            member_ids=member_ids,
            reason=reason,
            actor=actor,
            actor_label=actor_label,
            note=note,
            now=now,
        ),
        **case_params,
    }
    changes_sql = _changes_sql(case_sql, ladder.downgrade_policy, reason)
    run = None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        if member_ids is None:
            key = _ladder_key(ladder, levels, params["currency"])
            run, changed = _plan_everyone(cursor, basis=basis, key=key, params=params, full=full)
            if changed is not None:
                params["member_ids"] = changed
        for_members = params["member_ids"] is not None
        candidates_sql = _candidates_sql(levels, basis, for_members=for_members)
        written, moves = _run(cursor, candidates_sql, changes_sql, params, for_members=for_members)
        ups = sum(1 for _member, up in moves if up)
        if run is not None:
            recorded = TierRun.objects.create(
                **run,
                candidates=len(params["member_ids"] or ()),
                members_written=max(written, 0),
                upgrades=ups,
                downgrades=len(moves) - ups,
            )
            TierRun.objects.filter(id__lte=recorded.id - RUNS_KEPT).delete()
    return RecalcResult(
        members_written=max(written, 0),
        upgrades=ups,
        downgrades=len(moves) - ups,
        member_ids_moved=tuple(sorted(m for m, _up in moves)),
        full=bool(run and run["full"]),
        candidates=len(params["member_ids"] or ()) if run else 0,
    )
