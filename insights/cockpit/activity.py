"""What members did, day by day, read from the rows of the apps above the member centre: each kind
is one source (its table, its member, its time, its value) that both the activity summary
(MemberActivity, rebuilt here) and the drill-down filter ("did", insights/segments.py) read, so a
figure and its member list count the same rows. The staff summary (StaffDay) beside it: members
added, tasks, events run and sales credited per staff member and day."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from communities.models import CheckIn, Community, CommunityMembership, Event, SignUp
from insights.models import ActivityKind, DailyMembers, MemberActivity, StaffDay, StaffMetric
from journeys import sql as journeys_sql
from koc.models import Creator, Post
from loyalty.orders import sql as orders_sql
from members import sql as members_sql
from wecom import sql as wecom_sql

MEMBER_ACTIVITY = MemberActivity._meta.db_table
STAFF_DAY = StaffDay._meta.db_table
# communities and koc keep no sql.py: their tables' names from their models.
MEMBERSHIP = CommunityMembership._meta.db_table
SIGNUP = SignUp._meta.db_table
CHECKIN = CheckIn._meta.db_table
EVENT = Event._meta.db_table
COMMUNITY = Community._meta.db_table
POST = Post._meta.db_table
CREATOR = Creator._meta.db_table
QUICK_DAYS = 3  # the quick refresh rebuilds today and the two days before
TASK_QUICK_DAYS = 45  # tasks of the last weeks change state (done, expired) after the day they were made
FIRST_ORDER = "first_order"  # a summary-only kind: the day of a member's first live order (one row each)


@dataclass(frozen=True)
class Source:
    """`tables`: the FROM clause (alias x); `member`, `at`, `value`: columns of it; `where`: a
    condition on it (no parameters)."""

    tables: str
    member: str
    at: str
    value: str = "0"
    where: str = "TRUE"


SOURCES: dict[str, Source] = {
    ActivityKind.COMMUNITY_JOINED: Source(f"{MEMBERSHIP} x", "x.member_id", "x.joined_at"),
    ActivityKind.SIGNED_UP: Source(f"{SIGNUP} x", "x.member_id", "x.created_at"),
    ActivityKind.CHECKED_IN: Source(f"{CHECKIN} x", "x.member_id", "x.at"),
    ActivityKind.POSTED: Source(f"{POST} x JOIN {CREATOR} xc ON xc.id = x.creator_id", "xc.member_id",
                                "x.published_at", value="x.media_value"),
    ActivityKind.DELETED_STAFF: Source(f"{wecom_sql.FOLLOW} x JOIN {wecom_sql.CONTACT} xc ON xc.id = x.contact_id",
                                       "xc.member_id", "x.deleted_at", where="x.deleted_by = 'customer'"),
    ActivityKind.SERVED: Source(f"{journeys_sql.TASK} x", "x.member_id", "x.done_at",
                                where="x.state = 'done' AND x.member_id IS NOT NULL"),
}


def exists_sql(kind: str, m: str) -> str:
    """Member `m` has a row of `kind` in [%s, %s): the drill-down's condition (two parameters)."""
    s = SOURCES[kind]
    return (f"EXISTS (SELECT 1 FROM {s.tables} WHERE {s.member} = {m}.id AND {s.at} >= %s AND {s.at} < %s "
            f"AND {s.where})")


def _activity_sql(kind: str) -> str:
    s = SOURCES[kind]
    return f"""
INSERT INTO {MEMBER_ACTIVITY} (kind, day, member_id, store_id, rows, value)
SELECT %(kind)s, ({s.at} AT TIME ZONE %(tz)s)::date, m.id, m.home_store_id, count(*), coalesce(sum({s.value}), 0)
  FROM {s.tables} JOIN {members_sql.MEMBER} m ON m.id = {s.member} AND {members_sql.live('m')}
 WHERE {s.at} >= %(since)s AND {s.where}
 GROUP BY 2, 3, 4"""


# A member's first live order (not fully refunded, any currency): the store page's converted members.
# The quick refresh adds the members who bought for the first time since; the full one rebuilds all.
_FIRST_ORDER_SQL = f"""
INSERT INTO {MEMBER_ACTIVITY} (kind, day, member_id, store_id, rows, value)
SELECT '{FIRST_ORDER}', (f.at AT TIME ZONE %(tz)s)::date, m.id, m.home_store_id, 1, 0
  FROM (SELECT o.member_id, min(o.placed_at) AS at FROM {orders_sql.ORDER} o
         WHERE o.member_id IS NOT NULL AND o.refunded_amount < o.total_amount AND o.placed_at >= %(since)s
         GROUP BY o.member_id) f
  JOIN {members_sql.MEMBER} m ON m.id = f.member_id AND {members_sql.live('m')}
 WHERE NOT EXISTS (SELECT 1 FROM {MEMBER_ACTIVITY} a WHERE a.kind = '{FIRST_ORDER}' AND a.member_id = m.id)"""

# The store page's converted members: each live member with a first order, on the later of the day
# they joined and that order's, under their home store now (members' summary, dimension "converted").
_CONVERTED_SQL = f"""
INSERT INTO {{daily_members}} (day, store_id, dimension, key, members)
SELECT greatest(a.day, (m.created_at AT TIME ZONE %(tz)s)::date), m.home_store_id, 'bought', '', count(*)
  FROM {MEMBER_ACTIVITY} a JOIN {members_sql.MEMBER} m ON m.id = a.member_id AND {members_sql.live('m')}
 WHERE a.kind = '{FIRST_ORDER}'
 GROUP BY 1, 2"""

FIRST_ORDER_EXISTS = (f"EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = {{m}}.id "
                      "AND o.placed_at < %s AND o.refunded_amount < o.total_amount)")

_STAFF_SQL = {
    StaffMetric.MEMBERS_ADDED: f"""
SELECT (r.added_at AT TIME ZONE %(tz)s)::date, r.store_id, r.staff_id, '', count(DISTINCT r.member_id), 0
  FROM {members_sql.STAFF_RELATION} r JOIN {members_sql.MEMBER} m ON m.id = r.member_id AND {members_sql.live('m')}
 WHERE r.added_at >= %(since)s GROUP BY 1, 2, 3""",
    StaffMetric.TASKS: f"""
SELECT (t.created_at AT TIME ZONE %(tz)s)::date, t.store_id, t.assignee_id, t.state, count(*), 0
  FROM {journeys_sql.TASK} t WHERE t.created_at >= %(task_since)s GROUP BY 1, 2, 3, 4""",
    StaffMetric.TASKS_DONE: f"""
SELECT (t.done_at AT TIME ZONE %(tz)s)::date, t.store_id, t.done_by_id, t.outcome, count(*),
       count(*) FILTER (WHERE t.done_at <= t.due_at)
  FROM {journeys_sql.TASK} t WHERE t.state = 'done' AND t.done_at >= %(since)s GROUP BY 1, 2, 3, 4""",
    StaffMetric.EVENTS_RUN: f"""
SELECT (e.starts_at AT TIME ZONE %(tz)s)::date, e.store_id, c.owner_id, e.status, count(*), 0
  FROM {EVENT} e LEFT JOIN {COMMUNITY} c ON c.id = e.community_id
 WHERE e.starts_at >= %(since)s GROUP BY 1, 2, 3, 4""",
    StaffMetric.SALES: f"""
SELECT (o.placed_at AT TIME ZONE %(tz)s)::date, o.store_id, o.staff_id, '',
       count(*) FILTER (WHERE o.refunded_amount < o.total_amount), sum(o.total_amount - o.refunded_amount)
  FROM {orders_sql.ORDER} o
 WHERE o.staff_id IS NOT NULL AND o.currency = %(currency)s AND o.placed_at >= %(since)s GROUP BY 1, 2, 3""",
}
_STAFF_INSERT = (f"INSERT INTO {STAFF_DAY} (day, store_id, staff_id, key, n, amount, metric) "
                 "SELECT q.*, %(metric)s FROM ({sql}) q")


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def refresh_activity(*, full: bool = False, now=None) -> int:
    """Every activity kind: rebuilt whole, or (quick) today and the two days before rebuilt and the
    new first orders added; then the converted members per day counted from the first orders. One
    transaction."""
    from insights.cockpit.services import _mark, _params, sync_daily_members

    now, started = now or timezone.now(), time.perf_counter()
    first_day = timezone.localdate(now) - datetime.timedelta(days=QUICK_DAYS - 1)
    since = datetime.datetime(1970, 1, 2, tzinfo=datetime.UTC) if full else _start_of(first_day)
    with transaction.atomic(), connection.cursor() as cursor:
        # A quick and a full refresh at once would insert the same days twice: the second waits.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('insights.cockpit.activity'))")
        cursor.execute("SET LOCAL work_mem = '128MB'")
        if full:
            cursor.execute(f"DELETE FROM {MEMBER_ACTIVITY}")
        else:
            cursor.execute(f"DELETE FROM {MEMBER_ACTIVITY} WHERE day >= %s AND kind <> %s", [first_day, FIRST_ORDER])
        for kind in SOURCES:
            cursor.execute(_activity_sql(kind), {**_params(), "kind": str(kind), "since": since})
        cursor.execute(_FIRST_ORDER_SQL, {**_params(), "since": since})
        sync_daily_members(cursor, _CONVERTED_SQL.format(daily_members=DailyMembers._meta.db_table), _params(),
                           dimensions=["bought"])
        return _mark(cursor, "activity", started, now)


def refresh_staff(*, full: bool = False, now=None) -> int:
    """The staff summary: rebuilt whole, or (quick) its recent days (tasks: the last weeks' made)."""
    from insights.cockpit.services import _mark, _params

    now, started = now or timezone.now(), time.perf_counter()
    today = timezone.localdate(now)
    first_day = today - datetime.timedelta(days=QUICK_DAYS - 1)
    task_day = today - datetime.timedelta(days=TASK_QUICK_DAYS - 1)
    epoch = datetime.datetime(1970, 1, 2, tzinfo=datetime.UTC)
    since, task_since = (epoch, epoch) if full else (_start_of(first_day), _start_of(task_day))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('insights.cockpit.staff'))")
        cursor.execute("SET LOCAL work_mem = '128MB'")
        if full:
            cursor.execute(f"DELETE FROM {STAFF_DAY}")
        else:
            cursor.execute(f"DELETE FROM {STAFF_DAY} WHERE (metric = %s AND day >= %s) OR (metric <> %s AND day >= %s)",
                           [StaffMetric.TASKS, task_day, StaffMetric.TASKS, first_day])
        for metric, sql in _STAFF_SQL.items():
            cursor.execute(_STAFF_INSERT.format(sql=sql),
                           {**_params(), "since": since, "task_since": task_since, "metric": str(metric)})
        return _mark(cursor, "staff", started, now)


# --- distinct members per window ----------------------------------------------------------------------
# The cockpit's member counts over a period are distinct members, which no sum of days gives: kept
# per window (the preset periods, the periods before them, and their charts' points) so a reading
# counts no member rows. Stage moves are read from their own summary under "moved:<stage>".

MOVED = "moved:"
DAY_POINTS = 90  # the days of the longest preset charted per day (a period up to 92 days is)
WEEK_PRESET = 365  # the preset charted per week


def period_kinds() -> list[str]:
    from members.models import Stage

    return [str(k) for k in SOURCES] + [MOVED + s for s in Stage.values]


def activity_windows(today: datetime.date, *, presets=None) -> list[tuple[datetime.date, datetime.date]]:
    """(first, last day) of every window kept: the presets ending today and the periods before them,
    the last DAY_POINTS days one by one and the weeks of the WEEK_PRESET preset; `presets` narrows
    them to those presets' periods and the last QUICK_DAYS days (and the last week)."""
    from insights.cockpit.base import PRESETS, preset_period

    out: list[tuple[datetime.date, datetime.date]] = []
    for days in presets or PRESETS:
        current = preset_period(days, today=today)
        out += [(current.start, current.end), (current.previous.start, current.previous.end)]
    points = QUICK_DAYS if presets else DAY_POINTS
    out += [(today - datetime.timedelta(days=i), today - datetime.timedelta(days=i)) for i in range(points)]
    weeks = preset_period(WEEK_PRESET, today=today).buckets()
    out += [(b.start, b.end) for b in (weeks[-2:] if presets else weeks)]
    return list(dict.fromkeys(out))


def _period_activity_sql() -> str:
    from insights.models import PeriodActivity, StageMove

    return f"""
WITH w AS MATERIALIZED (SELECT * FROM unnest(%(starts)s::date[], %(ends)s::date[]) AS w (first_day, last_day)),
x AS (
    SELECT kind, day, member_id, store_id, rows, value FROM {MEMBER_ACTIVITY} WHERE kind = ANY(%(kinds)s)
    UNION ALL
    SELECT '{MOVED}' || stage, day, member_id, store_id, 1, 0 FROM {StageMove._meta.db_table}
     WHERE '{MOVED}' || stage = ANY(%(kinds)s)
)
INSERT INTO {PeriodActivity._meta.db_table} (start, "end", whole_brand, store_id, kind, members, rows, value,
                                             computed_at)
SELECT w.first_day, w.last_day, GROUPING(x.store_id) = 1, x.store_id, x.kind, count(DISTINCT x.member_id),
       sum(x.rows), sum(x.value), %(now)s
  FROM w JOIN x ON x.day BETWEEN w.first_day AND w.last_day
 GROUP BY GROUPING SETS ((w.first_day, w.last_day, x.kind, x.store_id), (w.first_day, w.last_day, x.kind))
"""


def refresh_period_activity(*, presets=None, now=None) -> int:
    """Distinct members per kind in every window kept (activity_windows), for the brand and per home
    store, from the activity and stage move summaries (refresh those first); a window nobody was
    active in still gets its brand-wide row (of zero), which is how a reading knows it is kept.
    Windows no longer kept (yesterday's) are dropped; a narrowed refresh that finds the day's windows
    not built yet (the first after midnight) builds them all. One transaction."""
    from insights.cockpit.base import PRESETS, preset_period
    from insights.cockpit.services import _mark
    from insights.models import PeriodActivity

    now, started = now or timezone.now(), time.perf_counter()
    today = timezone.localdate(now)
    longest = preset_period(max(PRESETS), today=today)
    if presets and not PeriodActivity.objects.filter(start=longest.start, end=longest.end).exists():
        presets = None  # the first refresh of a new day: every window, not live counts until the nightly run
    windows = activity_windows(today, presets=presets)
    kinds = period_kinds()
    table = PeriodActivity._meta.db_table
    starts, ends = [w[0] for w in windows], [w[1] for w in windows]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('insights.cockpit.period_activity'))")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        keep = activity_windows(today)
        cursor.execute(f'DELETE FROM {table} '
                       'WHERE (start, "end") NOT IN (SELECT * FROM unnest(%s::date[], %s::date[])) '
                       'OR (start, "end") IN (SELECT * FROM unnest(%s::date[], %s::date[]))',
                       [[w[0] for w in keep], [w[1] for w in keep], starts, ends])
        cursor.execute(_period_activity_sql(), {"starts": starts, "ends": ends, "kinds": kinds, "now": now})
        cursor.execute(
            f'INSERT INTO {table} (start, "end", whole_brand, store_id, kind, members, rows, value, computed_at) '
            "SELECT w.s, w.e, true, NULL, k, 0, 0, 0, %s FROM unnest(%s::date[], %s::date[]) AS w (s, e) "
            "CROSS JOIN unnest(%s::text[]) AS k ON CONFLICT DO NOTHING", [now, starts, ends, kinds])
        return _mark(cursor, "period_activity", started, now)
