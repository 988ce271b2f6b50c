"""Writes of insights: RFM scores, fully recomputed (nightly) or for a few members against the
stored quintile boundaries (after their orders change). Set-based SQL throughout."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from loyalty.orders import sql as orders_sql
from scrm.models import Role

WINDOW_DAYS = 365

# The documented rule of insights.models.RFMSegment, over score columns r and f.
SEGMENT_SQL = """CASE WHEN {r} >= 4 AND {f} >= 4 THEN 'champions'
     WHEN {r} >= 3 AND {f} >= 3 THEN 'loyal'
     WHEN {r} >= 4 THEN 'new'
     WHEN {r} = 3 THEN 'need_attention'
     WHEN {f} >= 3 THEN 'at_risk'
     ELSE 'hibernating' END"""

# Per member with a live order: last order ever, orders and net spend in the window. Fully
# refunded orders do not count; spend is in the reporting currency.
_AGGREGATE = f"""
SELECT o.member_id,
       max(o.placed_at) AS last_order_at,
       count(*) FILTER (WHERE o.placed_at >= %(since)s) AS frequency,
       coalesce(sum(o.total_amount - o.refunded_amount)
                FILTER (WHERE o.placed_at >= %(since)s AND o.currency = %(currency)s), 0) AS monetary
  FROM {orders_sql.ORDER} o
 WHERE o.member_id IS NOT NULL AND o.refunded_amount < o.total_amount {{only}}
 GROUP BY o.member_id
"""

_RECENCY = "greatest(0, floor(extract(epoch FROM %(now)s - a.last_order_at) / 86400))::int"

_FULL_SCORES = f"""
CREATE TEMP TABLE insights_rfm_new ON COMMIT DROP AS
SELECT s.*, {SEGMENT_SQL.format(r="s.r_score", f="s.f_score")} AS segment
  FROM (SELECT a.member_id, a.last_order_at, a.frequency, a.monetary, {_RECENCY} AS recency_days,
               ntile(5) OVER (ORDER BY a.last_order_at) AS r_score,
               ntile(5) OVER (ORDER BY a.frequency) AS f_score,
               ntile(5) OVER (ORDER BY a.monetary) AS m_score
          FROM ({_AGGREGATE.format(only="")}) a) s
"""

_BOUNDARIES = """
INSERT INTO insights_rfmboundaries (id, window_days, recency, frequency, monetary, members, computed_at, duration_ms)
SELECT 1, %(window)s,
       coalesce((SELECT array_agg(v ORDER BY q) FROM (SELECT r_score q, min(recency_days) v FROM insights_rfm_new
                  WHERE r_score < 5 GROUP BY r_score) x), '{}'),
       coalesce((SELECT array_agg(v ORDER BY q) FROM (SELECT f_score q, max(frequency) v FROM insights_rfm_new
                  WHERE f_score < 5 GROUP BY f_score) x), '{}'),
       coalesce((SELECT array_agg(v ORDER BY q) FROM (SELECT m_score q, max(monetary) v FROM insights_rfm_new
                  WHERE m_score < 5 GROUP BY m_score) x), '{}'),
       (SELECT count(*) FROM insights_rfm_new), %(now)s, 0
ON CONFLICT (id) DO UPDATE SET window_days = EXCLUDED.window_days, recency = EXCLUDED.recency,
    frequency = EXCLUDED.frequency, monetary = EXCLUDED.monetary, members = EXCLUDED.members,
    computed_at = EXCLUDED.computed_at
"""

_COLUMNS = "member_id, last_order_at, recency_days, frequency, monetary, r_score, f_score, m_score, segment"
_UPSERT_FROM = f"""
INSERT INTO insights_memberrfm ({_COLUMNS}, computed_at)
SELECT {_COLUMNS}, %(now)s FROM {{source}}
ON CONFLICT (member_id) DO UPDATE SET
    last_order_at = EXCLUDED.last_order_at, recency_days = EXCLUDED.recency_days,
    frequency = EXCLUDED.frequency, monetary = EXCLUDED.monetary, r_score = EXCLUDED.r_score,
    f_score = EXCLUDED.f_score, m_score = EXCLUDED.m_score, segment = EXCLUDED.segment,
    computed_at = EXCLUDED.computed_at
"""


def _params(now, window_days: int) -> dict:
    return {
        "now": now,
        "since": now - timedelta(days=window_days),
        "window": window_days,
        "currency": settings.SIYU_CURRENCIES[0],
    }


def refresh_rfm(*, now=None, window_days: int = WINDOW_DAYS) -> dict:
    """Score every member with orders by quintiles (NTILE) and keep the boundaries for rescoring.
    One transaction: readers see the old scores until the new ones are complete."""
    now = now or timezone.now()
    params = _params(now, window_days)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        # ON COMMIT DROP does not fire inside an outer transaction (a savepoint): drop it by hand too.
        cursor.execute("DROP TABLE IF EXISTS insights_rfm_new")
        cursor.execute(_FULL_SCORES, params)
        cursor.execute(_BOUNDARIES, params)
        # Replace every row: cheaper than an upsert probing the key of each, and readers keep seeing the
        # old scores (MVCC) until the transaction commits.
        cursor.execute(
            "SELECT count(*) FROM insights_memberrfm r WHERE NOT EXISTS "
            "(SELECT 1 FROM insights_rfm_new n WHERE n.member_id = r.member_id)"
        )
        removed = cursor.fetchone()[0]
        cursor.execute("DELETE FROM insights_memberrfm")
        cursor.execute(
            f"INSERT INTO insights_memberrfm ({_COLUMNS}, computed_at) "
            f"SELECT {_COLUMNS}, %(now)s FROM insights_rfm_new",
            params,
        )
        scored = cursor.rowcount
        cursor.execute("DROP TABLE insights_rfm_new")
        took = int((time.perf_counter() - started) * 1000)
        cursor.execute("UPDATE insights_rfmboundaries SET duration_ms = %s WHERE id = 1", [took])
    return {"scored": scored, "removed": removed, "ms": took}


_RESCORE = f"""
WITH b AS (SELECT recency, frequency, monetary FROM insights_rfmboundaries WHERE id = 1),
a AS ({_AGGREGATE.format(only="AND o.member_id = ANY(%(ids)s)")}),
s AS (
    SELECT a.member_id, a.last_order_at, a.frequency, a.monetary, {_RECENCY} AS recency_days,
           1 + (SELECT count(*) FROM unnest(b.recency) x WHERE {_RECENCY} < x)::int AS r_score,
           1 + (SELECT count(*) FROM unnest(b.frequency) x WHERE a.frequency > x)::int AS f_score,
           1 + (SELECT count(*) FROM unnest(b.monetary) x WHERE a.monetary > x)::int AS m_score
      FROM a CROSS JOIN b
),
scored AS (SELECT s.*, {SEGMENT_SQL.format(r="s.r_score", f="s.f_score")} AS segment FROM s)
{_UPSERT_FROM.format(source="scored")}
"""


def rescore_members(*, member_ids: Iterable[int], now=None) -> dict:
    """Rescore these members against the stored boundaries (no full recompute): what keeps the
    scores current between nightly refreshes. Before any refresh, it runs the full one."""
    ids = sorted({int(i) for i in member_ids})
    if not ids:
        return {"scored": 0, "removed": 0}
    with connection.cursor() as cursor:
        cursor.execute("SELECT window_days FROM insights_rfmboundaries WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        result = refresh_rfm(now=now)
        return {"scored": result["scored"], "removed": result["removed"]}
    params = {**_params(now or timezone.now(), row[0]), "ids": ids}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_RESCORE, params)
        scored = cursor.rowcount
        cursor.execute(
            "DELETE FROM insights_memberrfm r WHERE r.member_id = ANY(%(ids)s) AND NOT EXISTS ("
            f"SELECT 1 FROM {orders_sql.ORDER} o "
            "WHERE o.member_id = r.member_id AND o.refunded_amount < o.total_amount)",
            params,
        )
        removed = cursor.rowcount
    return {"scored": scored, "removed": removed}


def can_read_figures(actor) -> bool:
    """The Figures page is for operators (the brand's figures) and store managers (their store's)."""
    return getattr(actor, "role", None) in (Role.OPERATOR, Role.STORE_MANAGER)


def can_read_brand(actor) -> bool:
    """Operators read the whole brand's cockpit and may cut it to one store."""
    return getattr(actor, "role", None) == Role.OPERATOR
