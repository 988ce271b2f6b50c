"""The results summary of large campaigns: their figures summed by a task, read by the results page.

Summing a campaign's results live (campaigns.services.results) reads every delivery, click and
candidate order: about 1.2 s at 200,000 deliveries and 25 s at a million. Above
SIYU_RESULTS_LIVE_MAX recipients the page reads a summary instead: one row per (member's home
store, staff member, state, reason) with the clicks, attributed orders and holdout-window orders of
those members (CampaignFigures), and the links' clicks per home store (CampaignLinkFigures). Every
figure of the page is a sum of those rows, cut to a store role's store by `home_store`, so the
summary answers what the live query would have answered when it was made; the page says when.

A beat task refreshes the summaries of the campaigns still moving (sending, or within their
attribution window) every SIYU_RESULTS_REFRESH_MINUTES, oldest first and a few per run; a refresh
asked for on the page is picked up by the next run or at once by a queued task. Refreshing is one
transaction that replaces the campaign's rows (readers see the old summary or the new one, never
half), under the run row's lock (a second refresher of the same campaign skips it)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.links import sql as links_sql
from campaigns.models import Campaign, CampaignFigures, CampaignFiguresRun, CampaignLinkFigures, CampaignStatus
from campaigns.services import results
from campaigns.services.results import COUNTED_ORDER, NET
from loyalty.orders import sql as orders_sql
from members import sql as members_sql
from members.segments.models import SegmentSnapshot
from scrm.sql import fetchall

FIGURES = CampaignFigures._meta.db_table
LINK_FIGURES = CampaignLinkFigures._meta.db_table
RUN = CampaignFiguresRun._meta.db_table
CAMPAIGN = Campaign._meta.db_table
SNAPSHOT = SegmentSnapshot._meta.db_table
STATEMENT_TIMEOUT = "30min"  # a summary of tens of millions of deliveries; web requests keep theirs
PER_RUN = 5  # campaigns refreshed by one beat run
RUN_BUDGET = 240.0  # seconds a beat run starts new refreshes for (it expires before the next)

# The live funnel's parts (deliveries, clicks, candidate orders, attribution) for every store at
# once, grouped by the columns a results page cuts and breaks down by, with the holdout window's
# buyers of the sent and held-out members beside them.
SUMMARY_SQL = f"""
WITH {results.FUNNEL_PARTS},
buyers AS (
    SELECT o.member_id, sum({NET}) AS revenue FROM {orders_sql.ORDER} o
    WHERE o.placed_at >= %(start)s AND o.placed_at < %(end)s AND o.member_id IS NOT NULL AND {COUNTED_ORDER}
    GROUP BY o.member_id
)
INSERT INTO {FIGURES} (campaign_id, home_store_id, staff_id, state, reason, members, clicked, clicks, converted,
                       orders, revenue, buyers, buyer_revenue)
SELECT %(campaign)s, d.home_store_id, d.staff_id, d.state, d.reason, count(*), count(c.member_id),
       coalesce(sum(c.clicks), 0), count(a.member_id), coalesce(sum(a.orders), 0), coalesce(sum(a.revenue), 0),
       count(b.member_id), coalesce(sum(b.revenue), 0)
FROM d
LEFT JOIN clicked c ON c.member_id = d.member_id
LEFT JOIN attributed a ON a.member_id = d.member_id
LEFT JOIN buyers b ON b.member_id = d.member_id AND d.state IN ('sent', 'held_out')
GROUP BY d.home_store_id, d.staff_id, d.state, d.reason"""

LINK_SUMMARY_SQL = f"""
INSERT INTO {LINK_FIGURES} (campaign_id, link_id, home_store_id, clicks, members)
SELECT %(campaign)s, l.id, m.home_store_id, count(k.id), count(DISTINCT k.member_id)
FROM {links_sql.LINK} l
JOIN {links_sql.CLICK} k ON k.link_id = l.id
LEFT JOIN {members_sql.MEMBER} m ON m.id = k.member_id
WHERE l.campaign_id = %(campaign)s
GROUP BY l.id, m.home_store_id"""

# The same rows the live FUNNEL_SQL answers (campaigns.services.results._fill reads either).
FUNNEL_FROM_SUMMARY_SQL = f"""
SELECT GROUPING(home_store_id, staff_id, state, reason), home_store_id, staff_id, state, reason,
       sum(members),
       coalesce(sum(members) FILTER (WHERE state = 'held_out'), 0),
       coalesce(sum(members) FILTER (WHERE state = 'suppressed'), 0),
       coalesce(sum(members) FILTER (WHERE state IN ('pending', 'sending')), 0),
       coalesce(sum(members) FILTER (WHERE state = 'failed'), 0),
       coalesce(sum(members) FILTER (WHERE state IN ('sent', 'accepted')), 0),
       coalesce(sum(members) FILTER (WHERE state = 'sent'), 0),
       sum(clicked), sum(clicks), sum(converted), sum(orders), sum(revenue)
FROM {FIGURES}
WHERE campaign_id = %(campaign)s AND (%(store)s::bigint IS NULL OR home_store_id = %(store)s::bigint)
GROUP BY GROUPING SETS ((), (home_store_id), (staff_id), (state, reason))"""

UPLIFT_FROM_SUMMARY_SQL = f"""
SELECT state, sum(members), sum(buyers), sum(buyer_revenue) FROM {FIGURES}
WHERE campaign_id = %(campaign)s AND state IN ('sent', 'held_out')
  AND (%(store)s::bigint IS NULL OR home_store_id = %(store)s::bigint)
GROUP BY state"""

LINKS_FROM_SUMMARY_SQL = f"""
SELECT l.code, l.target_url, coalesce(sum(f.clicks), 0), coalesce(sum(f.members), 0)
FROM {links_sql.LINK} l
LEFT JOIN {LINK_FIGURES} f ON f.campaign_id = l.campaign_id AND f.link_id = l.id
 AND (%(store)s::bigint IS NULL OR f.home_store_id = %(store)s::bigint)
WHERE l.campaign_id = %(campaign)s
GROUP BY l.id ORDER BY l.id"""


def live_max() -> int:
    return settings.SIYU_RESULTS_LIVE_MAX


def refresh_every() -> dt.timedelta:
    return dt.timedelta(minutes=settings.SIYU_RESULTS_REFRESH_MINUTES)


def summarised(campaign: Campaign) -> bool:
    """Whether `campaign`'s results are read from its summary: it has more recipients than are
    summed live (its snapshot's size, known without counting)."""
    if campaign.snapshot_id is None:
        return False
    count = SegmentSnapshot.objects.filter(pk=campaign.snapshot_id).values_list("member_count", flat=True).first()
    return (count or 0) > live_max()


def run_of(campaign: Campaign) -> CampaignFiguresRun | None:
    return CampaignFiguresRun.objects.filter(campaign_id=campaign.pk).first()


def refresh(*, campaign: Campaign, now: dt.datetime | None = None) -> CampaignFiguresRun | None:
    """Sum `campaign`'s results into its summary, replacing the last one; None when another worker
    is refreshing it right now (or it has not started sending)."""
    if campaign.send_month is None or campaign.started_at is None:
        return None
    now = now or timezone.now()
    params = results.params_for(campaign, store_id=None, now=now)
    end = min(campaign.started_at + dt.timedelta(days=params["days"]), now)
    started = time.perf_counter()
    with transaction.atomic():
        CampaignFiguresRun.objects.get_or_create(campaign_id=campaign.pk)
        run = CampaignFiguresRun.objects.select_for_update(skip_locked=True).filter(campaign_id=campaign.pk).first()
        if run is None:
            return None
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # see campaigns.services.results.campaign_results
            cursor.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
            cursor.execute(f"DELETE FROM {FIGURES} WHERE campaign_id = %s", [campaign.pk])
            cursor.execute(f"DELETE FROM {LINK_FIGURES} WHERE campaign_id = %s", [campaign.pk])
            cursor.execute(SUMMARY_SQL, {**params, "start": campaign.started_at, "end": end})
            cursor.execute(LINK_SUMMARY_SQL, params)
            cursor.execute(f"SELECT coalesce(sum(members), 0) FROM {FIGURES} WHERE campaign_id = %s", [campaign.pk])
            deliveries = cursor.fetchone()[0]
        run.computed_at, run.window_end, run.deliveries = now, end, deliveries
        run.seconds = round(time.perf_counter() - started, 3)
        run.save(update_fields=["computed_at", "window_end", "deliveries", "seconds"])
    return run


def request_refresh(*, campaign: Campaign, now: dt.datetime | None = None) -> bool:
    """Ask for `campaign`'s summary to be summed again soon; False when it is not summarised. Safe
    to repeat: the ask is a time on its run row, which the next beat run honours even when the task
    queued here is lost."""
    if not summarised(campaign) or campaign.started_at is None:
        return False
    now = now or timezone.now()
    CampaignFiguresRun.objects.get_or_create(campaign_id=campaign.pk)
    CampaignFiguresRun.objects.filter(campaign_id=campaign.pk).update(requested_at=now)

    from campaigns import tasks

    # Lost with the broker down at commit: the beat run finds the ask on the run row all the same.
    transaction.on_commit(lambda: tasks.refresh_campaign_figures.delay(campaign.pk))
    return True


def due(*, now: dt.datetime, limit: int = PER_RUN) -> list[int]:
    """Summarised campaigns whose summary is missing, asked for or older than the refresh interval,
    while their figures can still move: sending or paused, or finished less than an attribution
    window ago (and the summary not made after that). Oldest summary first."""
    days = results.window_days()
    sql = f"""
        SELECT c.id FROM {CAMPAIGN} c
        JOIN {SNAPSHOT} s ON s.id = c.snapshot_id AND s.member_count > %(live_max)s
        LEFT JOIN {RUN} r ON r.campaign_id = c.id
        WHERE c.started_at IS NOT NULL AND c.send_month IS NOT NULL
          AND (r.computed_at IS NULL OR r.requested_at > r.computed_at OR (
                r.computed_at < %(stale)s AND (
                    c.status IN (%(sending)s, %(paused)s)
                    OR r.computed_at < coalesce(c.finished_at, c.updated_at) + %(days)s * interval '1 day'
                    OR r.window_end < c.started_at + %(days)s * interval '1 day')))
        ORDER BY r.requested_at > r.computed_at DESC NULLS FIRST, r.computed_at NULLS FIRST, c.id
        LIMIT %(limit)s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"live_max": live_max(), "stale": now - refresh_every(), "days": days,
                             "sending": CampaignStatus.SENDING, "paused": CampaignStatus.PAUSED, "limit": limit})
        return [row[0] for row in cursor.fetchall()]


def refresh_due(*, now: dt.datetime | None = None, budget: float = RUN_BUDGET) -> list[int]:
    """One beat run: refresh the due summaries, a few, while the budget lasts; the campaigns done."""
    now = now or timezone.now()
    done, started = [], time.perf_counter()
    for pk in due(now=now):
        if time.perf_counter() - started > budget:
            break
        campaign = Campaign.objects.filter(pk=pk).first()
        if campaign is not None and refresh(campaign=campaign, now=timezone.now()) is not None:
            done.append(pk)
    return done


def fill_from_summary(out, campaign: Campaign, params: dict, run: CampaignFiguresRun) -> None:
    """Fill the Results `out` from `campaign`'s summary (the same figures the live query gives)."""
    results._fill_rows(out, fetchall(FUNNEL_FROM_SUMMARY_SQL, params))
    out.links = [results.LinkFigures(*row) for row in fetchall(LINKS_FROM_SUMMARY_SQL, params)]
    rows = {state: (int(n), int(x), Decimal(revenue)) for state, n, x, revenue in
            fetchall(UPLIFT_FROM_SUMMARY_SQL, params)}
    out.uplift = results.uplift_of(campaign, params, rows, end=run.window_end)
