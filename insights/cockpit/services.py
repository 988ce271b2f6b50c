"""The cockpit's summaries, rebuilt from the rows they sum with set-based SQL: members joined per
day (by source and by channel code), 5A stage moves, sales per day, and the buyers and the distinct
campaign members of the preset periods. Each rebuild is one transaction: readers see the old rows
until the new ones are complete.

`refresh(full=False)` (every few minutes) rebuilds the members' days, adds the stage moves written
since the last run, rebuilds the last three days of sales and activity, and the distinct active
members of the 7- and 30-day presets and of the last days (insights.cockpit.activity);
`refresh_buyers(presets=(7, 30))` and
`refresh_campaign_members(presets=(7, 30))` (hourly) the short presets' buyers and campaign members;
`refresh(full=True)` (just after midnight) everything.
`buyer_rows` is also what the cockpit counts live for a period it keeps no summary of, so the two
cannot disagree."""

from __future__ import annotations

import datetime
import time
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from insights.cockpit.base import PRESETS, Period, preset_period
from insights.models import (
    CampaignSet,
    DailyMembers,
    DailySales,
    PeriodBuyers,
    PeriodCampaignMembers,
    StageMove,
    SummaryRun,
)
from insights.segments import CAMPAIGN_PARTS, CAMPAIGN_STATES, STAGE_CHANGE_KINDS, STAGE_TO_SQL
from loyalty.orders import sql as orders_sql
from members import sql as members_sql
from members.models import Stage

DAILY_MEMBERS = DailyMembers._meta.db_table
STAGE_MOVE = StageMove._meta.db_table
DAILY_SALES = DailySales._meta.db_table
SALES_DAYS_QUICK = 3  # the quick refresh rebuilds the sales of today and the two days before
QUICK_BUYER_PRESETS = (7, 30)

_MEMBERS_SQL = f"""
INSERT INTO {DAILY_MEMBERS} (day, store_id, dimension, key, members)
SELECT (m.created_at AT TIME ZONE %(tz)s)::date, m.home_store_id, 'source', m.source, count(*)
  FROM {members_sql.MEMBER} m WHERE {members_sql.live('m')}
 GROUP BY 1, 2, 4
UNION ALL
SELECT %(today)s, m.home_store_id, 'total', '', count(*)
  FROM {members_sql.MEMBER} m WHERE {members_sql.live('m')}
 GROUP BY 2
UNION ALL
SELECT (m.created_at AT TIME ZONE %(tz)s)::date, m.home_store_id, 'state', left(r.state, 64), count(DISTINCT m.id)
  FROM {members_sql.MEMBER} m JOIN {members_sql.STAFF_RELATION} r ON r.member_id = m.id AND r.state <> ''
 WHERE {members_sql.live('m')}
 GROUP BY 1, 2, 4
"""

_STAGE_MOVES_SQL = f"""
INSERT INTO {STAGE_MOVE} (member_id, day, stage, store_id)
SELECT DISTINCT e.member_id, (e.created_at AT TIME ZONE %(tz)s)::date, {STAGE_TO_SQL.format(e="e")}, m.home_store_id
  FROM {members_sql.MEMBER_EVENT} e JOIN {members_sql.MEMBER} m ON m.id = e.member_id
 WHERE e.kind = ANY(%(kinds)s) AND {STAGE_TO_SQL.format(e="e")} = ANY(%(stages)s) AND {members_sql.live('m')}
   AND e.id > %(after)s AND e.id <= %(upto)s
ON CONFLICT (member_id, day, stage) DO NOTHING
"""

_SALES_SQL = f"""
INSERT INTO {DAILY_SALES} (day, store_id, channel, buyer, orders, gmv)
SELECT (o.placed_at AT TIME ZONE %(tz)s)::date,
       CASE WHEN m.id IS NULL THEN o.store_id ELSE m.home_store_id END, o.channel,
       CASE WHEN m.id IS NULL THEN 'other' ELSE 'member' END,
       count(*) FILTER (WHERE o.refunded_amount < o.total_amount), sum(o.total_amount - o.refunded_amount)
  FROM {orders_sql.ORDER} o LEFT JOIN {members_sql.MEMBER} m ON m.id = o.member_id AND {members_sql.live('m')}
 WHERE o.currency = %(currency)s AND o.placed_at >= %(since)s
 GROUP BY 1, 2, 3, 4
"""

# Buyers of one period: pool members by their home store, with how many orders each placed in the
# period and whether they bought in the period before too; other buyers by the order's store.
_MEMBER_BUYERS_SQL = f"""
WITH mo AS MATERIALIZED (
    SELECT o.member_id, o.channel, m.home_store_id AS store_id, o.placed_at >= %(since)s AS cur
      FROM {orders_sql.ORDER} o JOIN {members_sql.MEMBER} m ON m.id = o.member_id
     WHERE o.member_id IS NOT NULL AND o.placed_at >= %(before)s AND o.placed_at < %(until)s
       AND o.refunded_amount < o.total_amount AND {members_sql.live('m')} {{store_m}}
),
pm AS (
    SELECT member_id, store_id, count(*) FILTER (WHERE cur) AS n, bool_or(NOT cur) AS before
      FROM mo GROUP BY member_id, store_id
)
SELECT GROUPING(store_id) = 1, store_id, channel, count(DISTINCT member_id), NULL::bigint, NULL::bigint
  FROM mo WHERE cur GROUP BY GROUPING SETS ((store_id, channel), (channel))
UNION ALL
SELECT GROUPING(store_id) = 1, store_id, '', count(*), count(*) FILTER (WHERE n >= 2),
       count(*) FILTER (WHERE before)
  FROM pm WHERE n > 0 GROUP BY GROUPING SETS ((store_id), ())
"""

_OTHER_BUYERS_SQL = f"""
SELECT GROUPING(o.store_id) = 1, o.store_id, CASE WHEN GROUPING(o.channel) = 1 THEN '' ELSE o.channel END,
       count(DISTINCT CASE WHEN o.buyer_external_id <> ''
                           THEN o.buyer_channel || chr(31) || o.buyer_namespace || chr(31) || o.buyer_external_id
                           ELSE 'order ' || o.id END)
  FROM {orders_sql.ORDER} o
 WHERE o.member_id IS NULL AND o.placed_at >= %(since)s AND o.placed_at < %(until)s
   AND o.refunded_amount < o.total_amount {{store_o}}
 GROUP BY GROUPING SETS ((o.store_id, o.channel), (o.store_id), (o.channel), ())
"""


def _params() -> dict:
    return {"tz": settings.TIME_ZONE, "currency": settings.SIYU_CURRENCIES[0]}


def _mark(cursor, name: str, started: float, now, watermark: int | None = None) -> int:
    took = int((time.perf_counter() - started) * 1000)
    cursor.execute(
        f"INSERT INTO {SummaryRun._meta.db_table} (name, refreshed_at, duration_ms, watermark) "
        "VALUES (%s, %s, %s, coalesce(%s, 0)) ON CONFLICT (name) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at, "
        f"duration_ms = EXCLUDED.duration_ms, watermark = coalesce(%s, {SummaryRun._meta.db_table}.watermark)",
        [name, now, took, watermark, watermark],
    )
    return took


def sync_daily_members(cursor, insert_sql: str, params: dict, *, dimensions: list[str]) -> None:
    """Make the members' summary rows of `dimensions` those `insert_sql` (an INSERT INTO the summary
    (day, store_id, dimension, key, members) SELECT ...) makes, writing only the rows that changed:
    a day that did not move keeps its row, so rebuilding every few minutes leaves no dead rows for
    the cockpit's reads to wade through (deleting and inserting everything did, 4x at 1M members)."""
    cursor.execute("DROP TABLE IF EXISTS daily_members_fresh")
    cursor.execute("CREATE TEMP TABLE daily_members_fresh (day date, store_id bigint, dimension text, key text, "
                   "members integer) ON COMMIT DROP")
    cursor.execute(insert_sql.replace(DAILY_MEMBERS, "daily_members_fresh", 1), params)
    cursor.execute(
        f"INSERT INTO {DAILY_MEMBERS} (day, store_id, dimension, key, members) "
        "SELECT day, store_id, dimension, key, members FROM daily_members_fresh "
        "ON CONFLICT ON CONSTRAINT daily_members_unique DO UPDATE SET members = EXCLUDED.members "
        f"WHERE {DAILY_MEMBERS}.members <> EXCLUDED.members")
    cursor.execute(
        f"DELETE FROM {DAILY_MEMBERS} d WHERE d.dimension = ANY(%s) AND NOT EXISTS (SELECT 1 FROM "
        "daily_members_fresh f WHERE f.dimension = d.dimension AND f.day = d.day "
        "AND f.store_id IS NOT DISTINCT FROM d.store_id AND f.key = d.key)", [dimensions])


def refresh_members(*, now=None) -> int:
    """Members joined per day, per home store, by source and by channel code, and every member per
    home store: rebuilt whole (one statement over the members, so the totals are the days' sums;
    merges and erasures change past days too)."""
    now, started = now or timezone.now(), time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '128MB'")
        sync_daily_members(cursor, _MEMBERS_SQL, {**_params(), "today": timezone.localdate(now)},
                           dimensions=["source", "state", "total"])  # "bought" is the activity's
        return _mark(cursor, "members", started, now)


def refresh_stage_moves(*, full: bool = False, now=None) -> int:
    """5A stage moves from the members' timelines: rebuilt whole, or (quick) the entries written since
    the last run added."""
    now, started = now or timezone.now(), time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {members_sql.MEMBER_EVENT}")
        upto = cursor.fetchone()[0]
        after = 0
        if full:
            cursor.execute(f"DELETE FROM {STAGE_MOVE}")
        else:
            cursor.execute(f"SELECT watermark FROM {SummaryRun._meta.db_table} WHERE name = 'stage_moves'")
            row = cursor.fetchone()
            if row is None:
                cursor.execute(f"DELETE FROM {STAGE_MOVE}")
            else:
                after = row[0]
        cursor.execute(_STAGE_MOVES_SQL, {**_params(), "kinds": [str(k) for k in STAGE_CHANGE_KINDS],
                                          "stages": list(Stage.values), "after": after, "upto": upto})
        return _mark(cursor, "stage_moves", started, now, watermark=upto)


def refresh_sales(*, full: bool = False, now=None) -> int:
    """Sales per day, channel and kind of buyer: rebuilt whole, or (quick) the last three days (a
    refund or a late-linked buyer of an older order shows at the next full rebuild)."""
    now, started = now or timezone.now(), time.perf_counter()
    first_day = datetime.date(1970, 1, 1) if full else timezone.localdate(now) - datetime.timedelta(
        days=SALES_DAYS_QUICK - 1)
    since = timezone.make_aware(datetime.datetime.combine(first_day, datetime.time.min))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute(f"DELETE FROM {DAILY_SALES} WHERE day >= %s", [first_day])
        cursor.execute(_SALES_SQL, {**_params(), "since": since})
        return _mark(cursor, "sales", started, now)


def buyer_rows(period: Period, *, store_id: int | None = None, cursor=None) -> dict:
    """{(whole_brand, store_id, channel): {"members", "others", "repeat", "returning"}} for one period
    (channel "" = every channel), counted from the orders; `store_id` cuts it to one store's rows."""
    since, until = period.bounds()
    before, _ = period.previous.bounds()
    params = {"since": since, "until": until, "before": before, "store": store_id}
    store_m = "AND m.home_store_id = %(store)s" if store_id is not None else ""
    store_o = "AND o.store_id = %(store)s" if store_id is not None else ""
    rows: dict = defaultdict(lambda: {"members": 0, "others": 0, "repeat": 0, "returning": 0})

    def run(c):
        c.execute(_MEMBER_BUYERS_SQL.format(store_m=store_m), params)
        for brand, store, channel, members, repeat, returning in c.fetchall():
            row = rows[(bool(brand), None if brand else store, channel)]
            row["members"] = members
            if repeat is not None:
                row["repeat"], row["returning"] = repeat, returning
        c.execute(_OTHER_BUYERS_SQL.format(store_o=store_o), params)
        for brand, store, channel, others in c.fetchall():
            rows[(bool(brand), None if brand else store, channel)]["others"] = others

    if cursor is not None:
        run(cursor)
    else:
        with connection.cursor() as c:
            run(c)
    if store_id is not None:  # a store's own rows only (its brand-wide grouping is that store again)
        return {k: v for k, v in rows.items() if not k[0] and k[1] == store_id}
    return dict(rows)


def preset_windows(today: datetime.date, presets=PRESETS) -> list[Period]:
    """The preset periods ending today, the periods before them (their comparisons) and the periods
    before those (what the returning rate of the period before is a share of)."""
    out = []
    for days in presets:
        current = preset_period(days, today=today)
        out += [w for w in (current, current.previous, current.previous.previous) if w not in out]
    return out


def refresh_buyers(*, presets=PRESETS, now=None) -> int:
    """Buyers of the preset periods ending today and of the two periods before each, for the brand and
    per store; rows of other periods (yesterday's presets) are dropped."""
    now, started = now or timezone.now(), time.perf_counter()
    windows = preset_windows(timezone.localdate(now), presets)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        rows = []
        for window in windows:
            for (brand, store, channel), v in buyer_rows(window, cursor=cursor).items():
                rows.append(PeriodBuyers(start=window.start, end=window.end, whole_brand=brand, store_id=store,
                                         channel=channel, computed_at=now, **v))
        keep = {(w.start, w.end) for w in preset_windows(timezone.localdate(now))}
        stale = PeriodBuyers.objects.all()
        for start, end in keep:
            stale = stale.exclude(start=start, end=end)
        stale.delete()
        for window in windows:
            PeriodBuyers.objects.filter(start=window.start, end=window.end).delete()
        PeriodBuyers.objects.bulk_create(rows, batch_size=2000)
        return _mark(cursor, "buyers", started, now)


# --- distinct members of the campaigns started in a period -------------------------------------------
# The rows the drill-down's "campaigns_part" condition selects (insights.segments._part_sql), as one
# statement per period: the period's campaigns' deliveries to live members, their clicks, the orders
# whose last touch is one of them; then per member whether they are in each part for each campaign set,
# counted per home store and for the whole brand.

# Which deliveries each campaign set counts, for a member of home store `d.store_id`.
_SET_CONDITIONS = {
    CampaignSet.ALL: "true",
    CampaignSet.BRAND_AND_STORE: "(d.campaign_store IS NULL OR d.campaign_store = d.store_id)",
    CampaignSet.STORE: "d.campaign_store = d.store_id",
}


def _part_condition(part: str) -> str:
    """A delivery row `d` (with its clicks `k` and attributed orders `v`) is in `part`."""
    if part == "clicked":
        return "k.member_id IS NOT NULL"
    if part == "converted":
        return "d.state = 'sent' AND v.member_id IS NOT NULL"
    states = CAMPAIGN_STATES[part]
    return "true" if states is None else "d.state IN (" + ", ".join(f"'{s}'" for s in states) + ")"


def _campaign_members_sql() -> str:
    from campaigns.models import Campaign
    from campaigns.services import results

    flags = ",\n       ".join(
        f"bool_or({_SET_CONDITIONS[which]} AND {_part_condition(part)}) AS {which.name.lower()}_{part}"
        for which in CampaignSet for part in CAMPAIGN_PARTS)
    counts = ", ".join(f"count(*) FILTER (WHERE {which.name.lower()}_{part})"
                       for which in CampaignSet for part in CAMPAIGN_PARTS)
    window = "%(days)s * interval '1 day'"
    return f"""
WITH c AS MATERIALIZED (
    SELECT c.id, c.send_month, c.store_id FROM {Campaign._meta.db_table} c
     WHERE c.started_at >= %(since)s AND c.started_at < %(until)s AND c.send_month IS NOT NULL
),
d AS MATERIALIZED (
    SELECT d.campaign_id, d.member_id, d.state, d.sent_at, c.store_id AS campaign_store, m.home_store_id AS store_id
      FROM c JOIN {results.DELIVERY} d ON d.campaign_id = c.id AND d.send_month = c.send_month
      JOIN {members_sql.MEMBER} m ON m.id = d.member_id
     WHERE {members_sql.live('m')}
),
clicks AS MATERIALIZED (
    SELECT k.campaign_id, k.member_id, min(k.clicked_at) AS first_click, max(k.clicked_at) AS last_click
      FROM c JOIN {results.CLICK} k ON k.campaign_id = c.id
     WHERE k.member_id IS NOT NULL GROUP BY k.campaign_id, k.member_id
),
candidates AS MATERIALIZED (
    -- The orders that can follow a touch of one of the campaigns (from the member's first touch of it
    -- to the window after the last): only these are asked for their last touch.
    SELECT DISTINCT o.id, o.member_id, o.placed_at
      FROM d LEFT JOIN clicks k ON k.campaign_id = d.campaign_id AND k.member_id = d.member_id
      JOIN {orders_sql.ORDER} o ON o.member_id = d.member_id
       AND o.placed_at >= least(d.sent_at, k.first_click)
       AND o.placed_at < greatest(d.sent_at, k.last_click) + {window}
       AND o.placed_at <= %(now)s
     WHERE d.state = 'sent' AND {results.COUNTED_ORDER}
),
v AS MATERIALIZED (
    SELECT DISTINCT o.member_id, t.campaign_id FROM candidates o CROSS JOIN LATERAL ({results.LAST_TOUCH}) AS t
),
per AS (
    SELECT d.member_id, d.store_id,
       {flags}
      FROM d LEFT JOIN clicks k ON k.campaign_id = d.campaign_id AND k.member_id = d.member_id
      LEFT JOIN v ON v.member_id = d.member_id AND v.campaign_id = d.campaign_id
     GROUP BY d.member_id, d.store_id
)
SELECT GROUPING(store_id) = 1, store_id, {counts}
  FROM per GROUP BY GROUPING SETS ((store_id), ())
"""


def campaign_member_rows(period: Period, *, now, cursor) -> dict:
    """{(whole_brand, store_id, campaign set): {part: distinct members}} of the campaigns started in
    the period: the whole brand's every campaign, and per home store the brand's and the store's
    campaigns and the store's own (members with no home store are in the whole brand's only)."""
    since, until = period.bounds()
    cursor.execute(_campaign_members_sql(), {**_params(), "since": since, "until": until, "now": now,
                                             "days": _window_days()})
    out, n = {}, len(CAMPAIGN_PARTS)
    for brand, store, *counts in cursor.fetchall():
        per_set = {which: dict(zip(CAMPAIGN_PARTS, counts[i * n:(i + 1) * n], strict=True))
                   for i, which in enumerate(CampaignSet)}
        if brand:
            out[(True, None, CampaignSet.ALL.value)] = per_set[CampaignSet.ALL]
        elif store is not None:
            for which in (CampaignSet.BRAND_AND_STORE, CampaignSet.STORE):
                out[(False, store, which.value)] = per_set[which]
    return out


def _window_days() -> int:
    from campaigns.services import results

    return results.window_days()


def refresh_campaign_members(*, presets=PRESETS, now=None) -> int:
    """Distinct members of each part of the campaigns started in the preset periods ending today, for
    the brand and per home store; rows of other periods (yesterday's presets) are dropped."""
    now, started = now or timezone.now(), time.perf_counter()
    today = timezone.localdate(now)
    windows = [preset_period(days, today=today) for days in presets]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        rows = []
        for window in windows:
            for (brand, store, which), parts in campaign_member_rows(window, now=now, cursor=cursor).items():
                rows.append(PeriodCampaignMembers(start=window.start, end=window.end, whole_brand=brand,
                                                  store_id=store, campaigns=which, computed_at=now, **parts))
        stale = PeriodCampaignMembers.objects.all()
        for keep in (preset_period(days, today=today) for days in PRESETS):
            stale = stale.exclude(start=keep.start, end=keep.end)
        stale.delete()
        for window in windows:
            PeriodCampaignMembers.objects.filter(start=window.start, end=window.end).delete()
        PeriodCampaignMembers.objects.bulk_create(rows, batch_size=2000)
        return _mark(cursor, "campaign_members", started, now)


CAMPAIGN_DAYS = 400  # campaigns started this long ago or less are kept summed for the cockpit
CAMPAIGN_BUDGET = 120.0  # seconds one refresh spends summing campaigns (the rest wait for the next)


def campaigns_due(*, now, limit: int = 50) -> list[int]:
    """Campaigns the cockpit reads whose results summary is missing, or older than the refresh
    interval while their figures can move (sending, or within the attribution window). Large
    campaigns are left to the campaigns' own refresh. Missing first, then the oldest."""
    from campaigns.models import Campaign, CampaignFiguresRun, CampaignStatus
    from campaigns.services import figures, results

    window = datetime.timedelta(days=results.window_days() + 1)
    runs = CampaignFiguresRun.objects.filter(campaign_id=OuterRef("pk"))
    rows = (Campaign.objects.filter(started_at__gte=now - datetime.timedelta(days=CAMPAIGN_DAYS),
                                    send_month__isnull=False)
            .exclude(snapshot__member_count__gt=figures.live_max())
            .annotate(summed=Subquery(runs.values("computed_at")[:1]))
            .filter(Q(summed__isnull=True) | Q(summed__lt=now - figures.refresh_every())
                    & (Q(status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]) | Q(started_at__gte=now - window)
                       | Q(summed__lt=F("started_at") + window)))
            .order_by(F("summed").asc(nulls_first=True), "pk"))
    return list(rows.values_list("pk", flat=True)[:limit])


def refresh_campaigns(*, now=None, budget: float = CAMPAIGN_BUDGET) -> int:
    """Sum the due campaigns' results (campaigns.services.figures.refresh) while the budget lasts."""
    from campaigns.models import Campaign
    from campaigns.services import figures

    now, started = now or timezone.now(), time.perf_counter()
    for pk in campaigns_due(now=now):
        if time.perf_counter() - started > budget:
            break
        campaign = Campaign.objects.filter(pk=pk).first()
        if campaign is not None:
            figures.refresh(campaign=campaign, now=timezone.now())
    return int((time.perf_counter() - started) * 1000)


def refresh(*, full: bool = False, now=None) -> dict:
    """Quick (members, new stage moves, recent sales, recent activity and staff figures, the short
    presets' and the last days' distinct active members, the due campaigns) or full (every summary, the
    buyers, campaign members and active members of every preset period included)."""
    from insights.cockpit import activity

    now = now or timezone.now()
    took = {
        "members_ms": refresh_members(now=now),
        "stage_moves_ms": refresh_stage_moves(full=full, now=now),
        "sales_ms": refresh_sales(full=full, now=now),
        "activity_ms": activity.refresh_activity(full=full, now=now),
        "staff_ms": activity.refresh_staff(full=full, now=now),
        "period_activity_ms": activity.refresh_period_activity(presets=None if full else QUICK_BUYER_PRESETS,
                                                               now=now),
        "campaigns_ms": refresh_campaigns(now=now),
    }
    if full:
        took["buyers_ms"] = refresh_buyers(now=now)
        took["campaign_members_ms"] = refresh_campaign_members(now=now)
    return took
