"""The overview's summarised figures: posts per day, platform, store and topic (`PostDay`) and per
creator and month (`CreatorMonth`), rebuilt whole and set-based from the posts' latest metrics.

Rules:
- `refresh()` replaces every row of both tables in one transaction (two INSERT … SELECT … GROUP BY
  over the posts joined to their creator's member for the home store): readers see the old rows or
  the new ones, never a mix. A transaction-scoped advisory lock serialises two refreshes.
- Days and months are the brand's time zone (settings.TIME_ZONE), as the live figures count them.
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

SMALL_POSTS = 200_000
LOCK_KEY = 0x6B6F6366  # "kocf"
STATEMENT_TIMEOUT = "300s"

_DAYS_SQL = """
    INSERT INTO koc_postday (day, platform, store_id, topic_id, posts, viral, views, interactions, media_value,
                             refreshed_at)
    SELECT (p.published_at AT TIME ZONE %(tz)s)::date, p.platform, m.home_store_id, p.topic_id, count(*),
           count(*) FILTER (WHERE p.viral), sum(p.views), sum(p.interactions), sum(p.media_value), %(at)s
    FROM koc_post p JOIN koc_creator c ON c.id = p.creator_id JOIN members_member m ON m.id = c.member_id
    GROUP BY 1, 2, 3, 4
"""

_CREATORS_SQL = """
    INSERT INTO koc_creatormonth (month, creator_id, store_id, posts, views, interactions, media_value)
    SELECT date_trunc('month', p.published_at AT TIME ZONE %(tz)s)::date, p.creator_id, m.home_store_id, count(*),
           sum(p.views), sum(p.interactions), sum(p.media_value)
    FROM koc_post p JOIN koc_creator c ON c.id = p.creator_id JOIN members_member m ON m.id = c.member_id
    GROUP BY 1, 2, 3
"""


def as_of() -> dt.datetime | None:
    """When the summary was last rebuilt (None: never, or no posts at the time)."""
    return PostDay.objects.order_by().values_list("refreshed_at", flat=True).first()


def refresh(*, now: dt.datetime | None = None) -> dict:
    """Rebuild both summary tables from the posts. Returns the rows written and the time stamp."""
    at = now or timezone.now()
    params = {"tz": settings.TIME_ZONE, "at": at}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        cursor.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("DELETE FROM koc_postday")
        cursor.execute("DELETE FROM koc_creatormonth")
        cursor.execute(_DAYS_SQL, params)
        days = cursor.rowcount
        cursor.execute(_CREATORS_SQL, params)
        months = cursor.rowcount
    return {"days": days, "creator_months": months, "at": at}


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
