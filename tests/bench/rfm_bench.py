"""RFM at scale: the nightly refresh and the rescoring of changed members, beside the bare NTILE SQL.

    .venv/bin/python tests/bench/rfm_bench.py                                  # 1M members, 5M orders
    .venv/bin/python tests/bench/rfm_bench.py --members 100000 --orders 500000 # a quick look

A command, not part of CI. It creates its own database (bench_rfm by default, dropped and created
again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. generates N members and M orders server-side (not timed): buyers skewed so a few buy often,
   10% of orders from buyers not yet known, 3% partly refunded, placed over the last two years;
2. times the floor: the one aggregate + three NTILE(5) windows over all buyers, rows consumed by
   the server (`SELECT count(*) FROM (...)`), nothing written;
3. times insights.services.refresh_rfm(): first into an empty table, then again over the scores
   it wrote (the nightly case: upsert of every row, deletion of members who no longer qualify);
4. times rescore_members() of 1,000 and 10,000 members against the stored boundaries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

from scrm import embedded  # noqa: E402

embedded.prepare()  # start the embedded servers when DATABASE_URL / REDIS_URL are not set
django.setup()

from benchdb import create_database, execute, log  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402


def generate(n_members: int, n_orders: int) -> None:
    execute("INSERT INTO scrm_region (code, name) VALUES ('bench', 'Bench')")
    execute("""INSERT INTO scrm_store (code, name, region_id, city, address, is_active, created_at)
               SELECT 'B' || lpad(i::text, 3, '0'), 'Store ' || i, (SELECT id FROM scrm_region), '上海', '', true, now()
                 FROM generate_series(1, 50) i""")
    execute("ALTER TABLE members_member DISABLE TRIGGER USER")  # the segments index is not what is measured
    execute(
        """INSERT INTO members_member (name, phone, gender, source, stage, attributes, home_store_id,
                                           created_at, updated_at)
               SELECT 'M' || i, '', 'u', 'other', 'aware', '{}',
                      (SELECT min(id) FROM scrm_store) + i %% 50, now(), now()
                 FROM generate_series(1, %s) i""",
        [n_members],
    )
    execute("ALTER TABLE members_member ENABLE TRIGGER USER")
    lo = execute("SELECT min(id) FROM members_member")[0][0]
    store0 = execute("SELECT min(id) FROM scrm_store")[0][0]
    step = 1_000_000
    for start in range(0, n_orders, step):
        end = min(n_orders, start + step)
        execute(
            """
            INSERT INTO orders_order (channel, external_id, member_id, buyer_channel, buyer_namespace,
                buyer_external_id, store_id, attribution, referral_code, currency, total_amount, refunded_amount,
                status, placed_at, created_at, updated_at)
            SELECT 'pos', 'O' || i, CASE WHEN r1 < 0.1 THEN NULL ELSE %(lo)s + floor(r2 * r2 * %(n)s)::int END,
                   CASE WHEN r1 < 0.1 THEN 'tmall' ELSE '' END, '', CASE WHEN r1 < 0.1 THEN 'tb' || i ELSE '' END,
                   %(store0)s + i %% 50, 'none', '', 'CNY', amount,
                   CASE WHEN r1 > 0.97 THEN round(amount / 2, 2) ELSE 0 END,
                   CASE WHEN r1 > 0.97 THEN 'partially_refunded' ELSE 'paid' END,
                   now() - make_interval(secs => r3 * 730 * 86400), now(), now()
              FROM (SELECT i, random() r1, random() r2, random() r3, round((20 + random() * 500)::numeric, 2) amount
                      FROM generate_series(%(start)s, %(end)s - 1) i) g
        """,
            {"lo": lo, "n": n_members, "store0": store0, "start": start, "end": end},
        )
    execute("ANALYZE")


FLOOR = """
SELECT count(*), sum(r + f + m) FROM (
    SELECT ntile(5) OVER (ORDER BY last_order_at) r, ntile(5) OVER (ORDER BY frequency) f,
           ntile(5) OVER (ORDER BY monetary) m
      FROM (SELECT member_id, max(placed_at) last_order_at,
                   count(*) FILTER (WHERE placed_at >= now() - interval '365 days') frequency,
                   coalesce(sum(total_amount - refunded_amount)
                            FILTER (WHERE placed_at >= now() - interval '365 days'), 0) monetary
              FROM orders_order WHERE member_id IS NOT NULL AND refunded_amount < total_amount
             GROUP BY member_id) a) s
"""


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="bench_rfm")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from insights import services

    original = connection.settings_dict["NAME"]
    log(f"creating database {args.database} and migrating")
    create_database(args.database)
    log(f"generating {args.members:,} members and {args.orders:,} orders")
    started = time.perf_counter()
    generate(args.members, args.orders)
    buyers = execute("SELECT count(DISTINCT member_id) FROM orders_order WHERE member_id IS NOT NULL")[0][0]
    log(f"generated in {time.perf_counter() - started:.0f} s; {buyers:,} members have orders")

    execute("SET work_mem = '256MB'")  # what refresh_rfm sets for itself
    floor = timed(lambda: execute(FLOOR), args.runs)
    log(f"floor (aggregate + NTILE, nothing written): {[round(t, 2) for t in floor]}")
    first = timed(lambda: services.refresh_rfm(), 1)
    log(f"refresh into an empty table: {first[0]:.2f} s")
    again = timed(lambda: services.refresh_rfm(), args.runs)
    log(f"refresh over existing scores: {[round(t, 2) for t in again]}")
    ids = [r[0] for r in execute("SELECT member_id FROM insights_memberrfm ORDER BY random() LIMIT 10000")]
    now = timezone.now()
    rescore_1k = timed(lambda: services.rescore_members(member_ids=ids[:1000], now=now), args.runs)
    rescore_10k = timed(lambda: services.rescore_members(member_ids=ids, now=now), args.runs)
    scored = execute("SELECT count(*) FROM insights_memberrfm")[0][0]
    segments = execute("SELECT segment, count(*) FROM insights_memberrfm GROUP BY 1 ORDER BY 2 DESC")

    floor_s = statistics.median(floor)
    rows = [
        ("floor: aggregate + 3 × NTILE (read only)", floor_s, 1.0),
        ("refresh_rfm, empty table", first[0], first[0] / floor_s),
        ("refresh_rfm, nightly (all rows rewritten)", statistics.median(again), statistics.median(again) / floor_s),
        ("rescore 1,000 members", statistics.median(rescore_1k), None),
        ("rescore 10,000 members", statistics.median(rescore_10k), None),
    ]
    print()
    print(f"RFM, {args.members:,} members ({scored:,} with orders), {args.orders:,} orders; median of {args.runs}")
    print(f"{'what':<46} {'seconds':>9} {'× floor':>8}")
    for name, seconds, ratio in rows:
        print(f"{name:<46} {seconds:>9.3f} {'' if ratio is None else f'{ratio:.2f}':>8}")
    print("segments:", ", ".join(f"{s} {n:,}" for s, n in segments))

    if not args.keep:
        connection.close()
        connection.settings_dict["NAME"] = original
        execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
