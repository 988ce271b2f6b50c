"""The overview's summarised figures: posts per day, platform, store and topic (`PostDay`) and per
creator over each of the overview's windows (`CreatorWindow`), rebuilt whole and set-based from the
posts' latest metrics.

Rules:
- `refresh()` replaces every row of both tables in one transaction (two INSERT … SELECT … GROUP BY
  over the posts joined to their creator's member for the home store, the windows' in one pass
  over the last 365 days): readers see the old rows or the new ones, never a mix. A
  transaction-scoped advisory lock serialises two refreshes.
- Days are the brand's time zone (settings.TIME_ZONE), as the live figures count them; a window
  starts at the brand's midnight `days` days before the refresh's day (koc.queries.since). In the
  few minutes after midnight before the next refresh, top creators are still the previous day's
  window (the page says as of when).
- The store is the creator's member's home store at refresh time; a member moving store moves
  their posts' figures at the next refresh.
- The task koc.refresh_figures runs it on a schedule (every 10 minutes); the page says "as of" the
  last refresh. Settings or rate changes need no refresh of their own: posts carry their media
  value, and the next scheduled refresh picks up whatever changed.
- `ensure()` is what the page calls: when the summary has never been built and the posts are few
  (under SMALL_POSTS, a bounded count), it builds it at once; else the page counts live until the
  first scheduled refresh."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from koc.models import PostDay
from members.sql import MEMBER

SMALL_POSTS = 200_000
LOCK_KEY = 0x6B6F6366  # "kocf"
STATEMENT_TIMEOUT = "300s"

_DAYS_SQL = f"""
    INSERT INTO koc_postday (day, platform, store_id, topic_id, posts, viral, views, interactions, media_value,
                             refreshed_at)
    SELECT (p.published_at AT TIME ZONE %(tz)s)::date, p.platform, m.home_store_id, p.topic_id, count(*),
           count(*) FILTER (WHERE p.viral), sum(p.views), sum(p.interactions), sum(p.media_value), %(at)s
    FROM koc_post p JOIN koc_creator c ON c.id = p.creator_id JOIN {MEMBER} m ON m.id = c.member_id
    GROUP BY 1, 2, 3, 4
"""



def _windows_sql(windows) -> str:
    """Every creator's totals over each window, from one pass over the widest window's posts,
    one row per creator and window they posted in."""
    sums = ", ".join(
        f"count(*) FILTER (WHERE p.published_at >= %(since_{d})s) AS n{d}, "
        f"coalesce(sum(p.views) FILTER (WHERE p.published_at >= %(since_{d})s), 0) AS v{d}, "
        f"coalesce(sum(p.interactions) FILTER (WHERE p.published_at >= %(since_{d})s), 0) AS i{d}, "
        f"coalesce(sum(p.media_value) FILTER (WHERE p.published_at >= %(since_{d})s), 0) AS m{d}"
        for d in windows)
    values = ", ".join(f"({d}, %(start_{d})s::date, a.n{d}, a.v{d}, a.i{d}, a.m{d})" for d in windows)
    return f"""
        INSERT INTO koc_creatorwindow (days, start, creator_id, store_id, posts, views, interactions, media_value)
        SELECT w.days, w.start, a.creator_id, a.store_id, w.posts, w.views, w.interactions, w.media_value
        FROM (SELECT p.creator_id, m.home_store_id AS store_id, {sums}
              FROM koc_post p JOIN koc_creator c ON c.id = p.creator_id JOIN {MEMBER} m ON m.id = c.member_id
              WHERE p.published_at >= %(since_{max(windows)})s
              GROUP BY 1, 2) AS a
        CROSS JOIN LATERAL (VALUES {values}) AS w(days, start, posts, views, interactions, media_value)
        WHERE w.posts > 0
    """


def as_of() -> dt.datetime | None:
    """When the summary was last rebuilt (None: never, or no posts at the time)."""
    return PostDay.objects.order_by().values_list("refreshed_at", flat=True).first()


def refresh(*, now: dt.datetime | None = None) -> dict:
    """Rebuild both summary tables from the posts. Returns the rows written and the time stamp."""
    from koc.queries import WINDOWS, since

    at = now or timezone.now()
    params = {"tz": settings.TIME_ZONE, "at": at}
    for days in WINDOWS:
        params[f"since_{days}"] = since(days, at)
        params[f"start_{days}"] = since(days, at).date()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        cursor.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("DELETE FROM koc_postday")
        cursor.execute("DELETE FROM koc_creatorwindow")
        cursor.execute(_DAYS_SQL, params)
        days = cursor.rowcount
        cursor.execute(_windows_sql(WINDOWS), params)
        windows = cursor.rowcount
    return {"days": days, "creator_windows": windows, "at": at}


def few_posts(limit: int = SMALL_POSTS) -> bool:
    """Whether the posts table holds fewer than `limit` rows (a count that stops at `limit`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM (SELECT 1 FROM koc_post LIMIT %s) AS x", [limit])
        return cursor.fetchone()[0] < limit


def ensure() -> dt.datetime | None:
    """The summary's time stamp, building it first when it was never built and the posts are few;
    None when it is not built (the caller counts live)."""
    stamp = as_of()
    if stamp is None and few_posts():
        refresh()
        stamp = as_of()
    return stamp
