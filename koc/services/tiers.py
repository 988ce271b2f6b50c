"""Recalculating creators' levels, set-based: one aggregate over the window's posts per creator, the
level it earns by the ladder's three minimums, then one UPDATE of the creators whose row changes,
one INSERT of their history and the benefit grants that follow, in one transaction.

Rules:
- Promotion (the earned level above the held one) applies at once, in any run.
- Demotion happens only in a run at a period's end (every `period_months` months from 1 January,
  brand time zone), and only when the creator falls below their level's minimums by more than the
  grace margin: with min_posts 10 and 20 % grace, 8 posts keep the level (counted as kept_by_grace).
  A demoted creator lands on the level their counts earn outright.
- Paused creators keep the level they hold: neither promoted nor demoted while paused (their counts
  are still kept up to date); their benefits are revoked while paused and granted again when they
  are active (rights.sync_grants holds benefits for active creators only).
- Creators who left lose their level (reason left_programme) and every benefit.
- A manual level (set_level) is a level like any other: the next run promotes above it if the
  counts earn more, and demotes below it only at a period's end past the grace margin. An operator
  who lowers a creator is therefore undone by the next run if the counts earn more.

A transaction-scoped advisory lock (shared with ladder edits) serialises runs, so two at once never
record the same move twice: the second waits, then finds nothing left to change. Every statement of
a run is bounded by a statement timeout."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from koc.models import Creator, CreatorStatus, Level, LevelChange, Post, Programme, TierRun
from koc.services import levels as ladder_services
from koc.services import rights
from members import sql as members_sql
from scrm import events, permissions
from scrm.actors import actor_user
from scrm.errors import InvalidInput
from scrm.services import audit

logger = logging.getLogger(__name__)

# Each statement of a run gets at most this long (settings.KOC_TIER_STATEMENT_TIMEOUT_MS overrides it).
STATEMENT_TIMEOUT_MS = 120_000
TRIGGERS = ("schedule", "manual", "api", "posts", "ladder")

CREATOR = Creator._meta.db_table
POST = Post._meta.db_table
LEVEL_CHANGE = LevelChange._meta.db_table
LEVEL_CHANGED = "creator.level_changed"


class Reason:
    JOINED = "joined"  # a first level
    PROMOTED = "promoted"
    DEMOTED = "demoted"  # at a period's end, past the grace margin (to a lower level, or below the base)
    LEFT = "left_programme"
    MANUAL = "manual"


def period_start(now: datetime.datetime, months: int) -> datetime.datetime:
    """The start of the period holding `now`: periods start every `months` months from 1 January,
    at local midnight (the brand's time zone, settings.TIME_ZONE)."""
    local = timezone.localtime(now)
    month = ((local.month - 1) // months) * months + 1
    return timezone.make_aware(datetime.datetime(local.year, month, 1))


def is_period_end(now: datetime.datetime, programme: Programme) -> bool:
    """Whether a run now is the period-end run: a period started since the last full period-end run
    that finished without error (so a missed day still demotes once, on the next run)."""
    start = period_start(now, programme.period_months)
    return not TierRun.objects.filter(period_end=True, error="", finished_at__isnull=False,
                                      started_at__gte=start).exists()


def _earned_case(levels: list[Level]) -> str:
    parts = [
        f"WHEN n.posts >= {lv.min_posts} AND n.viral >= {lv.min_viral} AND n.interactions >= {lv.min_interactions} "
        f"THEN {rank}"
        for rank, lv in reversed(list(enumerate(levels, 1)))
    ]
    return "CASE " + " ".join(parts) + " ELSE 0 END"


def _graced_sql() -> str:
    """Whether the counts are within the grace margin of the held level's minimums (rank cur_rank):
    count × 100 ≥ minimum × (100 − grace)."""
    return ("(e.posts * 100 >= (%(mp)s::bigint[])[e.cur_rank] * (100 - %(grace)s) "
            "AND e.viral * 100 >= (%(mv)s::bigint[])[e.cur_rank] * (100 - %(grace)s) "
            "AND e.interactions * 100 >= (%(mi)s::numeric[])[e.cur_rank] * (100 - %(grace)s))")


def _counts_sql(for_some: bool) -> str:
    some = "AND p.creator_id = ANY(%(creator_ids)s)" if for_some else ""
    return f"""
        CREATE TEMP TABLE koc_tier_counts ON COMMIT DROP AS
        SELECT p.creator_id, count(*) AS posts, count(*) FILTER (WHERE p.viral) AS viral,
               coalesce(sum(p.interactions), 0) AS interactions
        FROM {POST} p
        WHERE p.published_at >= %(since)s AND p.published_at <= %(now)s {some}
        GROUP BY p.creator_id
    """


def _decide_sql(levels: list[Level], for_some: bool) -> str:
    """Every creator counted, with the rank they hold, earn and will hold, kept where the row changes."""
    some = "AND c.id = ANY(%(creator_ids)s)" if for_some else ""
    graced = _graced_sql()
    return f"""
        CREATE TEMP TABLE koc_tier_calc ON COMMIT DROP AS
        WITH c AS (
            SELECT c.id, c.status, c.level_id, c.window_posts, c.window_viral, c.window_interactions, c.counted_at,
                   coalesce(array_position(%(ids)s::bigint[], c.level_id), 0) AS cur_rank,
                   coalesce(n.posts, 0) AS posts, coalesce(n.viral, 0) AS viral,
                   coalesce(n.interactions, 0) AS interactions
            FROM {CREATOR} c LEFT JOIN koc_tier_counts n ON n.creator_id = c.id
            WHERE TRUE {some}
        ),
        e AS (SELECT c.*, {_earned_case(levels).replace("n.", "c.")} AS earned FROM c),
        d AS (
            SELECT e.*,
                   CASE WHEN e.status = 'left' THEN 0
                        WHEN e.status <> 'active' THEN e.cur_rank
                        WHEN e.earned > e.cur_rank THEN e.earned
                        WHEN e.earned < e.cur_rank AND %(period_end)s AND NOT {graced} THEN e.earned
                        ELSE e.cur_rank END AS new_rank,
                   (e.status = 'active' AND e.earned < e.cur_rank AND %(period_end)s AND {graced}) AS graced
            FROM e
        )
        SELECT d.id AS creator_id, d.status, d.cur_rank, d.new_rank, d.graced, d.posts, d.viral, d.interactions,
               CASE WHEN d.new_rank = d.cur_rank THEN NULL
                    WHEN d.status = 'left' THEN '{Reason.LEFT}'
                    WHEN d.new_rank < d.cur_rank THEN '{Reason.DEMOTED}'
                    WHEN d.cur_rank = 0 THEN '{Reason.JOINED}'
                    ELSE '{Reason.PROMOTED}' END AS reason
        FROM d
        WHERE d.new_rank <> d.cur_rank OR d.graced OR d.counted_at IS NULL
           OR d.posts <> d.window_posts OR d.viral <> d.window_viral OR d.interactions <> d.window_interactions
    """


_UPDATE_SQL = f"""
    UPDATE {CREATOR} c
    SET level_id = (%(ids)s::bigint[])[t.new_rank],
        level_since = CASE WHEN t.new_rank <> t.cur_rank THEN %(now)s ELSE c.level_since END,
        window_posts = t.posts, window_viral = t.viral, window_interactions = t.interactions,
        counted_at = %(now)s, updated_at = %(now)s
    FROM koc_tier_calc t
    WHERE c.id = t.creator_id
"""

_HISTORY_SQL = f"""
    INSERT INTO {LEVEL_CHANGE} (creator_id, from_level_id, to_level_id, reason, posts, viral, interactions,
                                run_id, by_id, at)
    SELECT t.creator_id, (%(ids)s::bigint[])[t.cur_rank], (%(ids)s::bigint[])[t.new_rank], t.reason,
           t.posts, t.viral, t.interactions, %(run)s, %(by)s, %(now)s
    FROM koc_tier_calc t
    WHERE t.new_rank <> t.cur_rank
    ORDER BY t.creator_id
"""

def _level_json(rank: str) -> str:
    return (f"CASE WHEN {rank} = 0 THEN NULL ELSE jsonb_build_object("
            f"'id', (%s::bigint[])[{rank}], 'rank', {rank}, 'name', (%s::text[])[{rank}]) END")


# creator.level_changed for each creator whose level moved in this run, from the run's own table.
_EVENTS_SELECT = f"""
    SELECT c.member_id, m.home_store_id,
           jsonb_build_object('creator', jsonb_build_object('id', t.creator_id), 'from', {_level_json("t.cur_rank")},
                              'to', {_level_json("t.new_rank")}, 'reason', t.reason)
    FROM koc_tier_calc t JOIN {CREATOR} c ON c.id = t.creator_id JOIN {members_sql.MEMBER} m ON m.id = c.member_id
    WHERE t.new_rank <> t.cur_rank
    ORDER BY t.creator_id
"""


def _level_data(level: Level | None) -> dict | None:
    return {"id": level.pk, "rank": level.rank, "name": level.name} if level is not None else None


_TOTALS_SQL = """
    SELECT count(*) FILTER (WHERE new_rank > cur_rank), count(*) FILTER (WHERE new_rank < cur_rank),
           count(*) FILTER (WHERE graced), array_agg(creator_id) FILTER (WHERE new_rank <> cur_rank)
    FROM koc_tier_calc
"""


def _params(*, levels, programme, now, creator_ids, period_end, run, actor) -> dict:
    return {
        "ids": [lv.pk for lv in levels],
        "mp": [lv.min_posts for lv in levels],
        "mv": [lv.min_viral for lv in levels],
        "mi": [lv.min_interactions for lv in levels],
        "grace": int(programme.grace_percent),
        "now": now,
        "since": now - datetime.timedelta(days=programme.window_days),
        "creator_ids": creator_ids,
        "period_end": bool(period_end),
        "run": run.pk,
        "by": getattr(actor_user(actor), "pk", None),
    }


def _timeout_ms() -> int:
    return max(int(getattr(settings, "KOC_TIER_STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS)), 1)


def _run(cursor, *, levels, params, for_some: bool) -> dict:
    names = [lv.name for lv in levels]
    cursor.execute("DROP TABLE IF EXISTS pg_temp.koc_tier_counts, pg_temp.koc_tier_calc")
    cursor.execute("SET LOCAL work_mem = '128MB'")
    cursor.execute(_counts_sql(for_some), params)
    cursor.execute("SELECT count(*) FROM koc_tier_counts")
    counted = cursor.fetchone()[0]
    cursor.execute(_decide_sql(levels, for_some), params)
    cursor.execute(_TOTALS_SQL)
    promoted, demoted, graced, moved = cursor.fetchone()
    cursor.execute(_UPDATE_SQL, params)
    cursor.execute(_HISTORY_SQL, params)
    if moved:
        events.emit_sql(LEVEL_CHANGED, _EVENTS_SELECT, [params["ids"], names, params["ids"], names], at=params["now"])
    cursor.execute("DROP TABLE pg_temp.koc_tier_counts, pg_temp.koc_tier_calc")
    return {"counted": counted, "promoted": promoted, "demoted": demoted, "kept_by_grace": graced,
            "moved": moved or []}


def recalculate(*, actor=None, creator_ids=None, period_end: bool | None = None, trigger: str = "schedule",
                now: datetime.datetime | None = None) -> TierRun:
    """Bring creators' levels up to date (all creators, or `creator_ids`) and the benefits that
    follow; the TierRun says what it counted and changed. `period_end` None decides from the date
    (a full run is the period-end run when a period started since the last one; a run for some
    creators only promotes). An actor, when given, must be brand-wide (koc_programme is a brand
    setting); the schedule runs as the system. Idempotent: a second run changes and records nothing."""
    if actor is not None:
        permissions.require_write(actor, ladder_services.RESOURCE)
    if trigger not in TRIGGERS:
        raise InvalidInput(details={"trigger": [_("Unknown trigger “%(t)s”.") % {"t": trigger}]})
    now = now or timezone.now()
    if creator_ids is not None:
        creator_ids = sorted({int(i) for i in creator_ids})
    try:
        with transaction.atomic():
            return _recalculate(actor=actor, creator_ids=creator_ids, period_end=period_end, trigger=trigger, now=now)
    except Exception as exc:
        logger.exception("KOC tier recalculation failed")
        TierRun.objects.create(started_at=now, finished_at=timezone.now(), trigger=trigger,
                               period_end=bool(period_end), error=f"{type(exc).__name__}: {exc}"[:500])
        raise


def _recalculate(*, actor, creator_ids, period_end, trigger, now) -> TierRun:
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {_timeout_ms()}")
        ladder_services.lock(cursor)  # waits for another run or a ladder edit to commit
    programme = Programme.current()
    if period_end is None:
        period_end = creator_ids is None and is_period_end(now, programme)
    run = TierRun.objects.create(started_at=now, trigger=trigger, period_end=period_end)
    levels = ladder_services.ladder()
    if creator_ids == [] or not levels:
        # No ladder: nobody holds a level, so there is nothing to count against.
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
        return run
    params = _params(levels=levels, programme=programme, now=now, creator_ids=creator_ids,
                     period_end=period_end, run=run, actor=actor)
    with connection.cursor() as cursor:
        result = _run(cursor, levels=levels, params=params, for_some=creator_ids is not None)
    granted, revoked = rights.sync_grants(run=run, creator_ids=creator_ids)
    run.creators = result["counted"]
    run.promoted, run.demoted, run.kept_by_grace = result["promoted"], result["demoted"], result["kept_by_grace"]
    run.grants, run.revokes = granted, revoked
    run.finished_at = timezone.now()
    run.save(update_fields=["creators", "promoted", "demoted", "kept_by_grace", "grants", "revokes", "finished_at"])
    return run


@transaction.atomic
def set_level(*, creator: Creator, actor, level_id: int | None, reason: str) -> LevelChange | None:
    """An operator puts a creator on a level (None: below the base) by hand, recorded as a
    LevelChange (reason "manual", `by` the actor) and in the audit log with the operator's `reason`.
    The next recalculation treats it as the held level (see the module's rules). None when the
    creator already holds that level."""
    permissions.require_write(actor, ladder_services.RESOURCE)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(details={"reason": [_("Say why the level is set by hand.")]})
    level = None
    if level_id is not None:
        level = Level.objects.filter(pk=level_id).first()
        if level is None:
            raise InvalidInput(details={"level_id": [_("No level with the id %(id)s.") % {"id": level_id}]})
    with connection.cursor() as cursor:
        ladder_services.lock(cursor)
    creator = Creator.objects.select_for_update().get(pk=creator.pk)
    if creator.status == CreatorStatus.LEFT and level is not None:
        raise InvalidInput(details={"level_id": [_("This creator left the programme.")]})
    if creator.level_id == level_id:
        return None
    change = LevelChange.objects.create(
        creator=creator, from_level_id=creator.level_id, to_level=level, reason=Reason.MANUAL,
        posts=creator.window_posts, viral=creator.window_viral, interactions=creator.window_interactions,
        by=actor_user(actor))
    now = timezone.now()
    Creator.objects.filter(pk=creator.pk).update(level=level, level_since=now, updated_at=now)
    events.emit(LEVEL_CHANGED, member_id=creator.member_id, store_id=creator.member.home_store_id, at=now, data={
        "creator": {"id": creator.pk}, "from": _level_data(Level.objects.filter(pk=change.from_level_id).first()),
        "to": _level_data(level), "reason": Reason.MANUAL,
    })
    rights.sync_grants(creator_ids=[creator.pk])
    audit.record(actor=actor, action="koc.set_level", obj=creator, store_id=creator.member.home_store_id,
                 detail={"from": change.from_level_id, "to": level_id, "reason": reason.strip()[:280]})
    return change
