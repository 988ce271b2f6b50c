"""Who enters a live journey: INSERT ... SELECT, ON CONFLICT on the entry rule's key (journey, member,
period) DO NOTHING, with a journey.entered event per run written in the same statement.

- Event triggers (joined the pool with a channel code, tag added, tier change, first order, event
  attended) read the event log (scrm.models.Event) from each journey's cursor, a bounded span of ids
  at a time, every live journey of a trigger in one statement that also moves their cursors. Events
  younger than `EVENT_LAG` are left for the next pass, so an event whose transaction committed late
  (its id is lower than one already read) is still seen.
- Daily triggers (birthday, child's birth month, repurchase due, points about to expire, dormant,
  segment entered) run once per brand day per journey (`Journey.entered_on`, claimed with the
  journey's row lock), over the members set-based.

Only live members with a home store enter, and a store's journey only its store's members."""

from __future__ import annotations

import calendar
import datetime as dt

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from journeys.models import (
    EntryRule,
    Journey,
    JourneyState,
    JourneyStep,
    RepurchaseCycle,
    Trigger,
)
from journeys.sql import RUN
from loyalty.orders import sql as orders_sql
from loyalty.points import sql as points_sql
from members import sql as members_sql
from scrm import events
from scrm.actors import SystemActor

EVENT = events.EVENT
EVENT_LAG = dt.timedelta(seconds=30)
EVENT_SPAN = 50_000  # event ids a journey reads per pass
ENTERED = "journey.entered"


def event_high_water() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {EVENT}")
        return cursor.fetchone()[0]


def settled_events(now: dt.datetime) -> int:
    """The highest event id below which every event is older than EVENT_LAG."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id) FROM {EVENT} WHERE occurred_at >= %s", [now - EVENT_LAG])
        young = cursor.fetchone()[0]
    return young - 1 if young is not None else event_high_water()


def period_key(journey: Journey, now: dt.datetime) -> str:
    if journey.entry_rule != EntryRule.PER_PERIOD:
        return ""
    day = timezone.localtime(now).date()
    if journey.entry_period == "month":
        return f"{day:%Y-%m}"
    if journey.entry_period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}"


def first_step(journey: Journey) -> int | None:
    return (JourneyStep.objects.filter(journey=journey, version=journey.version).order_by("position")
            .values_list("pk", flat=True).first())


def enter(journey: Journey, candidates: str, params: list, *, now: dt.datetime) -> int:
    """Enter the members `candidates` (SQL yielding member_id, trigger_at) names; the runs written."""
    step = first_step(journey)
    if step is None:
        return 0
    store = "AND m.home_store_id = %s" if journey.store_id else ""
    ev, ev_params = events.insert_sql(
        ENTERED, "SELECT member_id, store_id, jsonb_build_object('journey', jsonb_build_object('id', journey_id), "
        "'version', version, 'run', jsonb_build_object('id', id)) FROM ins", at=now)
    sql = f"""
        WITH c AS (SELECT DISTINCT ON (q.member_id) q.member_id, q.trigger_at
                   FROM ({candidates}) AS q(member_id, trigger_at)
                   WHERE q.member_id IS NOT NULL ORDER BY q.member_id, q.trigger_at),
        ins AS (
            INSERT INTO {RUN} (journey_id, version, member_id, store_id, period_key, step_id, phase, next_due_at,
                               state, reason, trigger_at, entered_at)
            SELECT %s, %s, m.id, m.home_store_id, %s, %s, 0, %s, 'active', '', c.trigger_at, %s
            FROM c JOIN {members_sql.MEMBER} m ON m.id = c.member_id
            WHERE {members_sql.live("m")} AND m.home_store_id IS NOT NULL {store}
            ON CONFLICT (journey_id, member_id, period_key) DO NOTHING
            RETURNING id, journey_id, version, member_id, store_id),
        ev AS ({ev})
        SELECT count(*) FROM ins"""
    values = [*params, journey.pk, journey.version, period_key(journey, now), step, now, now]
    if journey.store_id:
        values.append(journey.store_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *ev_params])
        return cursor.fetchone()[0]


# --- event triggers ----------------------------------------------------------------------------------------

def _event_candidates(journey: Journey, lo: int, hi: int) -> tuple[str, list]:
    p = journey.trigger_params or {}
    base = f"SELECT e.member_id, e.occurred_at FROM {EVENT} e WHERE e.id > %s AND e.id <= %s AND e.type = %s"
    if journey.trigger == Trigger.JOINED:
        if p.get("channel_code"):
            return (base + f" AND EXISTS (SELECT 1 FROM {members_sql.STAFF_RELATION} r WHERE r.member_id = e.member_id "
                    "AND r.state = %s)", [lo, hi, "member.joined", p["channel_code"]])
        return base, [lo, hi, "member.joined"]
    if journey.trigger == Trigger.TAG_ADDED:
        return base + " AND e.data->'tag'->>'id' = %s", [lo, hi, "member.tag_added", str(p.get("tag"))]
    if journey.trigger == Trigger.TIER_CHANGED:
        if p.get("rank"):
            return (base + " AND (e.data->'to'->>'rank')::int >= %s "
                    "AND coalesce((e.data->'from'->>'rank')::int, 0) < %s",
                    [lo, hi, "member.tier_changed", p["rank"], p["rank"]])
        return base, [lo, hi, "member.tier_changed"]
    if journey.trigger == Trigger.FIRST_ORDER:
        return (base + f" AND NOT EXISTS (SELECT 1 FROM {orders_sql.ORDER} oe JOIN {orders_sql.ORDER} o "
                "ON o.member_id = oe.member_id AND o.id <> oe.id AND o.placed_at <= oe.placed_at "
                "WHERE oe.id = (e.data->'order'->>'id')::bigint)", [lo, hi, "order.linked"])
    if journey.trigger == Trigger.EVENT_ATTENDED:
        sql, values = base, [lo, hi, "event.checked_in"]
        if p.get("event"):
            sql, values = sql + " AND e.data->'event'->>'id' = %s", [*values, str(p["event"])]
        if p.get("community"):
            sql, values = sql + " AND e.data->'community'->>'id' = %s", [*values, str(p["community"])]
        return sql, values
    raise ValueError(f"not an event trigger: {journey.trigger}")


def enter_from_events(journey: Journey, *, now: dt.datetime, settled: int) -> int:
    """One bounded span of the event log past the journey's cursor (the caller holds its row lock)."""
    hi = min(settled, journey.event_cursor + EVENT_SPAN)
    if hi <= journey.event_cursor:
        return 0
    sql, params = _event_candidates(journey, journey.event_cursor, hi)
    made = enter(journey, sql, params, now=now)
    Journey.objects.filter(pk=journey.pk).update(event_cursor=hi)
    journey.event_cursor = hi
    return made


# Per event trigger: its event type and the condition an event e meets for journey j (its parameters).
EVENT_MATCH = {
    Trigger.JOINED: ("member.joined", f"(coalesce(j.trigger_params->>'channel_code', '') = '' OR EXISTS (SELECT 1 "
                                      f"FROM {members_sql.STAFF_RELATION} r WHERE r.member_id = e.member_id "
                                      "AND r.state = j.trigger_params->>'channel_code'))"),
    Trigger.TAG_ADDED: ("member.tag_added", "e.data->'tag'->>'id' = j.trigger_params->>'tag'"),
    Trigger.TIER_CHANGED: ("member.tier_changed", "(j.trigger_params->>'rank' IS NULL OR ((e.data->'to'->>'rank')::int "
                                                  ">= (j.trigger_params->>'rank')::int AND coalesce((e.data->'from'->>"
                                                  "'rank')::int, 0) < (j.trigger_params->>'rank')::int))"),
    Trigger.FIRST_ORDER: ("order.linked", f"NOT EXISTS (SELECT 1 FROM {orders_sql.ORDER} oe JOIN {orders_sql.ORDER} o "
                                          "ON o.member_id = oe.member_id AND o.id <> oe.id AND o.placed_at <= "
                                          "oe.placed_at WHERE oe.id = (e.data->'order'->>'id')::bigint)"),
    Trigger.EVENT_ATTENDED: ("event.checked_in",
                             "(j.trigger_params->>'event' IS NULL "
                             "OR e.data->'event'->>'id' = j.trigger_params->>'event') "
                             "AND (j.trigger_params->>'community' IS NULL "
                             "OR e.data->'community'->>'id' = j.trigger_params->>'community')"),
}


def enter_from_events_all(trigger: str, *, now: dt.datetime, settled: int) -> int:
    """Every live journey of an event trigger at once: one statement locks them (SKIP LOCKED), reads
    the events past their cursors once, writes the runs and their journey.entered events, and moves
    the cursors."""
    from journeys.models import EntryPeriod, EntryRule
    from journeys.sql import JOURNEY, STEP

    event_type, condition = EVENT_MATCH[trigger]
    day = timezone.localtime(now).date()
    keys = {EntryPeriod.MONTH: f"{day:%Y-%m}", EntryPeriod.QUARTER: f"{day.year}-Q{(day.month - 1) // 3 + 1}",
            EntryPeriod.YEAR: f"{day.year}"}
    ev, ev_params = events.insert_sql(
        ENTERED, "SELECT member_id, store_id, jsonb_build_object('journey', jsonb_build_object('id', journey_id), "
        "'version', version, 'run', jsonb_build_object('id', id)) FROM ins", at=now)
    sql = f"""
        WITH j AS MATERIALIZED (
            SELECT j.id, j.version, j.store_id, j.trigger_params, j.event_cursor AS lo,
                   least(%s::bigint, j.event_cursor + %s) AS hi,
                   CASE WHEN j.entry_rule = %s THEN CASE j.entry_period WHEN 'month' THEN %s WHEN 'quarter' THEN %s
                        ELSE %s END ELSE '' END AS period_key,
                   (SELECT s.id FROM {STEP} s WHERE s.journey_id = j.id AND s.version = j.version
                    ORDER BY s.position LIMIT 1) AS step_id
            FROM {JOURNEY} j WHERE j.state = 'live' AND j.trigger = %s AND j.event_cursor < %s
            ORDER BY j.id FOR UPDATE SKIP LOCKED),
        span AS (SELECT min(lo) AS lo, max(hi) AS hi FROM j),
        c AS (SELECT DISTINCT ON (j.id, e.member_id) j.id AS journey_id, e.member_id, e.occurred_at
              FROM span, {EVENT} e JOIN j ON e.id > j.lo AND e.id <= j.hi
              WHERE e.id > span.lo AND e.id <= span.hi AND e.type = %s AND e.member_id IS NOT NULL AND {condition}
              ORDER BY j.id, e.member_id, e.id),
        ins AS (
            INSERT INTO {RUN} (journey_id, version, member_id, store_id, period_key, step_id, phase, next_due_at,
                               state, reason, trigger_at, entered_at)
            SELECT j.id, j.version, m.id, m.home_store_id, j.period_key, j.step_id, 0, %s, 'active', '',
                   c.occurred_at, %s
            FROM c JOIN j ON j.id = c.journey_id JOIN {members_sql.MEMBER} m ON m.id = c.member_id
            WHERE j.step_id IS NOT NULL AND {members_sql.live("m")} AND m.home_store_id IS NOT NULL
              AND (j.store_id IS NULL OR m.home_store_id = j.store_id)
            ON CONFLICT (journey_id, member_id, period_key) DO NOTHING
            RETURNING id, journey_id, version, member_id, store_id),
        ev AS ({ev}),
        moved AS (UPDATE {JOURNEY} t SET event_cursor = j.hi FROM j WHERE t.id = j.id)
        SELECT count(*) FROM ins"""
    params = [settled, EVENT_SPAN, EntryRule.PER_PERIOD, keys[EntryPeriod.MONTH], keys[EntryPeriod.QUARTER],
              keys[EntryPeriod.YEAR], trigger, settled, event_type, now, now, *ev_params]
    with transaction.atomic(), connection.cursor() as cursor:
        # Many journeys over the same span: one pass over the events, hashed against the journeys on
        # their parameter, beats a range scan of the log per journey (1,000 journeys over 20,000 new
        # events: a nested loop compared every event with every journey).
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(sql, params)
        made = cursor.fetchone()[0]
        cursor.execute("SET LOCAL enable_nestloop = on")
        return made


# --- daily triggers ----------------------------------------------------------------------------------------

def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def birthday_candidates(today: dt.date) -> tuple[str, list]:
    """Members born on this day (those born on 29 February on the 28th in common years)."""
    days = [today.day]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append(29)
    return (f"SELECT m.id, %s::timestamptz FROM {members_sql.MEMBER} m WHERE m.birthday IS NOT NULL "
            "AND extract(month FROM m.birthday) = %s AND extract(day FROM m.birthday) = ANY(%s)",
            [_day_start(today), today.month, days])


def _orders(queryset, today: dt.date) -> tuple[str, list]:
    sql, params = queryset.values_list("member_id", "placed_at").query.sql_with_params()
    return sql, list(params)


def _daily_candidates(journey: Journey, today: dt.date, now: dt.datetime) -> tuple[str, list] | None:
    from journeys.services import rules

    p = journey.trigger_params or {}
    if journey.trigger == Trigger.BIRTHDAY:
        return birthday_candidates(today)
    if journey.trigger == Trigger.CHILD_BIRTH_MONTH:
        return (f"SELECT m.id, %s::timestamptz FROM {members_sql.MEMBER} m WHERE m.attributes ? %s "
                "AND substring(m.attributes->>%s from 6 for 2) = %s",
                [_day_start(today), p["attribute"], p["attribute"], f"{today.month:02d}"])
    if journey.trigger == Trigger.REPURCHASE_DUE:
        from loyalty.orders.models import OrderLine

        cycle = RepurchaseCycle.objects.filter(category=p.get("category")).first()
        if cycle is None:
            return None
        in_category = OrderLine.objects.filter(order_id=OuterRef("pk"), category=cycle.category)
        return _orders(rules._last_orders(today=today, days=cycle.days).filter(Exists(in_category)), today)
    if journey.trigger == Trigger.DORMANT:
        return _orders(rules._last_orders(today=today, days=int(p["days"])), today)
    if journey.trigger == Trigger.POINTS_EXPIRING:
        return (f"SELECT l.member_id, %s::timestamptz FROM {points_sql.POINT_LOT} l WHERE l.remaining > 0 "
                "AND l.expires_at > %s AND l.expires_at <= %s",
                [now, now, now + dt.timedelta(days=int(p["days"]))])
    if journey.trigger == Trigger.SEGMENT_ENTERED:
        from members.segments import queries as segment_queries
        from members.segments.models import Segment

        segment = Segment.objects.filter(pk=p.get("segment")).first()
        if segment is None:
            return None
        actor = SystemActor(f"journey:{journey.pk}")
        ids_sql, ids_params = segment_queries.member_ids_sql(segment.definition, actor, store_id=journey.store_id)
        return f"SELECT s.id, %s::timestamptz FROM ({ids_sql}) AS s", [now, *ids_params]
    raise ValueError(f"not a daily trigger: {journey.trigger}")


def enter_daily(journey: Journey, *, today: dt.date, now: dt.datetime) -> int:
    """The day's entries of a daily trigger (the caller holds the journey's row lock)."""
    found = _daily_candidates(journey, today, now)
    made = enter(journey, *found, now=now) if found is not None else 0
    Journey.objects.filter(pk=journey.pk).update(entered_on=today)
    journey.entered_on = today
    return made


def run_entries(*, now: dt.datetime | None = None, deadline: float | None = None) -> int:
    """This pass's entries: every event trigger's live journeys in one statement each, then each
    daily journey not yet entered today in its own transaction under its row lock (SKIP LOCKED: a
    second worker takes the next journey)."""
    import time

    from journeys.services.journeys import EVENT_TRIGGERS

    now = now or timezone.now()
    today = timezone.localtime(now).date()
    settled = settled_events(now)
    made = sum(enter_from_events_all(trigger, now=now, settled=settled) for trigger in sorted(EVENT_TRIGGERS))
    daily = (Journey.objects.filter(state=JourneyState.LIVE).exclude(trigger__in=EVENT_TRIGGERS)
             .filter(Q(entered_on__isnull=True) | Q(entered_on__lt=today)).order_by("pk"))
    for pk in list(daily.values_list("pk", flat=True)):
        if deadline is not None and time.monotonic() > deadline:
            break
        with transaction.atomic():
            journey = (Journey.objects.select_for_update(skip_locked=True)
                       .filter(pk=pk, state=JourneyState.LIVE).first())
            if journey is not None and (journey.entered_on is None or journey.entered_on < today):
                made += enter_daily(journey, today=today, now=now)
    return made
