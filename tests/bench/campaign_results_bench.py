"""Campaign results at scale: the funnel (with its last-touch attribution), the holdout comparison
and the links' clicks of one campaign, timed over N members, and the cost of recording a click.

    .venv/bin/python tests/bench/campaign_results_bench.py                    # 200,000 members
    .venv/bin/python tests/bench/campaign_results_bench.py --members 1000000

A command, not part of CI. It creates its own database (bench_siyu_results, dropped and created
again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. seeds N members (tests/campaigns/load.py) and starts two campaigns over all of them, the first
   with a link and a 10% holdout; marks their deliveries delivered (the first at T, the second at
   T + 2 days) in one UPDATE each;
2. writes clicks on the first campaign's link for 5% of its recipients (T + 3 days) and orders for
   30% of all members over T - 5 .. T + 12 days, a tenth of them partly refunded (set-based);
3. times campaign_results for the first campaign as an operator and as a store manager (best of
   --runs after a warm-up), checks that the two campaigns' attributed revenue never exceeds the
   orders' and that no order counts twice;
   then sums its results summary (campaigns.services.figures) as the beat task would and times the
   page's read from it, checking that it gives the same figures as the live query;
4. times --clicks follows of a tracked link (one statement each) through the service.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

from scrm import embedded  # noqa: E402

embedded.prepare()
django.setup()

from benchdb import create_database, execute, log  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from tests.campaigns import load  # noqa: E402


def _timed(fn, runs: int):
    fn()  # warm-up
    best = None
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return value, best


def _comparable(found) -> dict:
    out = dataclasses.asdict(found)
    for name in ("campaign", "summarised", "as_of", "refreshing"):
        out.pop(name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=2000)
    parser.add_argument("--database", default="bench_siyu_results")
    args = parser.parse_args()

    from campaigns.links import services as links
    from campaigns.links import tokens
    from campaigns.links.models import ShortLink
    from campaigns.models import Campaign, CampaignFigures
    from campaigns.services import figures, results
    from scrm.models import User

    create_database(args.database)
    log(f"database {args.database} on {connection.settings_dict['HOST'] or 'localhost'}")
    store_ids = load.stores(5)
    load.checked_policy(daily_cap=0, weekly_cap=0, monthly_cap=0, quiet_start=None, quiet_end=None)
    started = time.perf_counter()
    load.seed_members(args.members, store_ids=store_ids)
    log(f"seeded {args.members:,} members in {time.perf_counter() - started:.1f} s")

    first, fan1 = load.start_campaign(name="results one", content="{name}: https://shop.example.com/spring")
    Campaign.objects.filter(pk=first.pk).update(holdout_share="0.10")
    execute("DELETE FROM campaigns_delivery WHERE campaign_id = %s", [first.pk])  # again, with the holdout
    from campaigns.services import fanout

    first.refresh_from_db()
    fanout.fan_out(campaign=first)
    second, fan2 = load.start_campaign(name="results two")
    t0 = timezone.now() - dt.timedelta(days=30)
    for campaign, at in ((first, t0), (second, t0 + dt.timedelta(days=2))):
        execute("UPDATE campaigns_campaign SET started_at = %s, status = 'done' WHERE id = %s",
                [at - dt.timedelta(hours=1), campaign.pk])
        execute("UPDATE campaigns_delivery SET state = 'sent', sent_at = %s WHERE campaign_id = %s "
                "AND state = 'pending'", [at, campaign.pk])
    first.refresh_from_db()
    counts = dict(execute("SELECT state, count(*) FROM campaigns_delivery WHERE campaign_id = %s GROUP BY 1",
                          [first.pk]))
    log(f"two campaigns fanned out ({fan1:.1f} s, {fan2:.1f} s); the first: {counts}")

    link = ShortLink.objects.get(campaign=first)
    execute("""INSERT INTO links_click (link_id, campaign_id, member_id, clicked_at, minute, user_agent)
        SELECT %(link)s, %(c)s, d.member_id, %(at)s, date_trunc('minute', %(at)s::timestamptz), ''
        FROM campaigns_delivery d WHERE d.campaign_id = %(c)s AND d.state = 'sent' AND d.member_id %% 20 = 0""",
            {"link": link.pk, "c": first.pk, "at": t0 + dt.timedelta(days=3)})
    execute("""INSERT INTO orders_order (channel, external_id, member_id, buyer_channel, buyer_namespace,
            buyer_external_id, store_id, staff_id, attribution, referral_code, currency, total_amount,
            refunded_amount, status, placed_at, created_at, updated_at)
        SELECT 'pos', 'B' || m.id || '-' || k, m.id, '', '', '', m.home_store_id, NULL, 'none', '', 'CNY',
               100 + (m.id %% 7) * 10, CASE WHEN m.id %% 10 = 0 THEN 30 ELSE 0 END,
               CASE WHEN m.id %% 10 = 0 THEN 'partially_refunded' ELSE 'paid' END,
               %(t0)s::timestamptz + ((m.id * 7919 + k * 104729) %% (17 * 24)) * interval '1 hour'
                 - interval '5 days', now(), now()
        FROM members_member m CROSS JOIN generate_series(1, 2) AS k
        WHERE (m.id + k) %% 7 IN (0, 3)""", {"t0": t0})
    execute("ANALYZE")
    orders, gross = execute("SELECT count(*), sum(total_amount - refunded_amount) FROM orders_order")[0]
    log(f"orders: {orders:,} (net {gross:,}); clicks: "
        f"{execute('SELECT count(*) FROM links_click')[0][0]:,}")

    operator = load.operator()
    manager = User.objects.create(username="bench_manager", role="store_manager", store_id=store_ids[0])
    now = timezone.now()
    settings.SIYU_RESULTS_LIVE_MAX = 10**12  # summed live, however large
    live = {}
    for who, actor in (("operator", operator), ("store manager", manager)):
        if who == "store manager":
            Campaign.objects.filter(pk=first.pk).update(store_id=store_ids[0])  # reachable by the manager
            first.refresh_from_db()
        found, seconds = _timed(lambda a=actor: results.campaign_results(campaign=first, actor=a, now=now), args.runs)
        f, u = found.funnel, found.uplift
        live[who] = found
        log(f"results (live) as {who}: {seconds * 1000:,.0f} ms (best of {args.runs}) over {f.targeted:,} deliveries: "
            f"sent {f.sent:,}, clicked {f.clicked:,}, converted {f.converted:,}, orders {f.orders:,}, revenue "
            f"{f.revenue:,}; uplift {u.conversion_difference:+.4f} ({u.verdict}, z={u.z})")
    # The same figures from the summary (campaigns.services.figures): summed once by the task, then read.
    settings.SIYU_RESULTS_LIVE_MAX = 0
    started = time.perf_counter()
    run = figures.refresh(campaign=first, now=now)
    log(f"summary: summed in {time.perf_counter() - started:.2f} s ({run.deliveries:,} deliveries, "
        f"{CampaignFigures.objects.filter(campaign=first).count():,} rows)")
    for who, actor in (("operator", operator), ("store manager", manager)):
        found, seconds = _timed(lambda a=actor: results.campaign_results(campaign=first, actor=a, now=now), args.runs)
        same = _comparable(found) == _comparable(live[who])
        log(f"results (summary) as {who}: {seconds * 1000:,.1f} ms (best of {args.runs}); "
            + ("the same figures as live: OK" if same else "PROBLEM: figures differ from the live ones"))
    settings.SIYU_RESULTS_LIVE_MAX = 10**12
    Campaign.objects.filter(pk=first.pk).update(store_id=None)
    first.refresh_from_db()
    one = results.campaign_results(campaign=first, actor=operator, now=now).funnel
    two = results.campaign_results(campaign=second, actor=operator, now=now).funnel
    attributed = one.revenue + two.revenue
    log(f"attributed: first {one.revenue:,} + second {two.revenue:,} = {attributed:,} of {gross:,} "
        + ("OK" if attributed <= gross else "PROBLEM: more than the orders"))

    members = execute("SELECT member_id FROM campaigns_delivery WHERE campaign_id = %s AND state = 'sent' "
                      "ORDER BY member_id LIMIT %s", [first.pk, args.clicks])
    follows = [(link.code, tokens.make(link.code, m)) for (m,) in members]
    started = time.perf_counter()
    for code, token in follows:
        links.follow(code=code, token=token, user_agent="bench", now=timezone.now())
    elapsed = time.perf_counter() - started
    log(f"clicks: {len(follows):,} follows in {elapsed:.2f} s = {elapsed / len(follows) * 1000:.2f} ms each "
        "(token check + one statement)")


if __name__ == "__main__":
    main()
