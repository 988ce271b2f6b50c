"""Tier recalculation at scale, beside the single aggregate SQL that is its floor, in the same run.

    .venv/bin/python tests/bench/tiers_bench.py --members 1000000      # default: 1M members, 5M orders
    .venv/bin/python tests/bench/tiers_bench.py --members 10000000     # the target: 10M members, 50M orders

A command, not part of CI. It creates its own database (bench_siyu_tiers by default, dropped and
created again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. generates N members (50 stores, 1% merged, 1% erased) and 5 x N orders over the last two years
   server-side with generate_series (net spend skewed so every level is populated; 10% of orders
   partly refunded, 1% without a member yet), then VACUUM ANALYZE (not timed);
2. times the floor: CREATE TEMP TABLE AS SELECT member_id, sum(total - refunded) ... GROUP BY over
   the window (the one aggregate any recalculation must do), with the same work_mem;
3. times ours, recalculate_tiers() for everyone: the first run (every member gets a row and a
   history entry), a steady run (nothing changed: nothing written), and a run a week later (the
   window slid: only the members whose level or spend moved are written);
4. times a prompt recalculation of 100 members (what an order batch queues).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

N_STORES = 50
LEVELS = [
    ("可可小白", 0),
    ("可可学徒", 300),
    ("可可达人", 800),
    ("可可行家", 2000),
    ("可可鉴赏家", 5000),
    ("可可大师", 10000),
]
MEMBER_TRIGGERS = [
    "member_segments_member_insert",
    "member_segments_member_delete",
    "member_segments_member_update",
    "member_segments_member_truncate",
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def execute(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def create_database(name: str) -> None:
    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{name}"')
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)


def generate(n: int, orders_per_member: int, batch: int) -> None:
    from scrm.models import Region, Store
    from tiers.models import TierLadder, TierLevel

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"B{i:03d}", name=f"Store {i}", region=region, city="上海") for i in range(N_STORES)]
    )
    store_ids = "{" + ",".join(str(s.pk) for s in stores) + "}"
    ladder = TierLadder.objects.create(pk=1, name="bench", window_days=365)
    TierLevel.objects.bulk_create(
        [
            TierLevel(ladder=ladder, rank=i + 1, name=name, threshold=threshold)
            for i, (name, threshold) in enumerate(LEVELS)
        ]
    )
    # The segments index triggers are the member centre's cost, not this benchmark's subject.
    for trigger in MEMBER_TRIGGERS:
        execute(f"ALTER TABLE members_member DISABLE TRIGGER {trigger}")
    started = time.perf_counter()
    for lo in range(1, n + 1, batch):
        hi = min(n, lo + batch - 1)
        with transaction.atomic():
            execute(f"""
                INSERT INTO members_member (id, name, phone, gender, home_store_id, source, stage, attributes,
                                            merged_into_id, erased_at, created_at, updated_at)
                SELECT g, '会员' || g, '', 'u', ('{store_ids}'::bigint[])[1 + g % {N_STORES}], 'other', 'aware', '{{}}',
                       CASE WHEN g % 100 = 0 AND g > 1 THEN g - 1 END, CASE WHEN g % 100 = 1 THEN now() END,
                       now(), now()
                FROM generate_series({lo}::bigint, {hi}::bigint) AS g""")
    log(f"members: {n:,} in {time.perf_counter() - started:.0f} s")
    execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), %s)", [n])
    started = time.perf_counter()
    total = n * orders_per_member
    # Spend per member is skewed: a member's orders average 20-3,000 yuan by a power of a hash,
    # so a few members spend a lot and every level holds members.
    for lo in range(1, total + 1, batch * orders_per_member):
        hi = min(total, lo + batch * orders_per_member - 1)
        with transaction.atomic():
            execute(f"""
                INSERT INTO orders_order (channel, external_id, member_id, buyer_channel, buyer_namespace,
                    buyer_external_id, store_id, attribution, referral_code, currency, total_amount,
                    refunded_amount, status, placed_at, created_at, updated_at)
                SELECT (ARRAY['pos','tmall','douyin','miniprogram'])[1 + g % 4], 'B' || g,
                       CASE WHEN g % 100 <> 7 THEN m END, '', '', '', ('{store_ids}'::bigint[])[1 + m % {N_STORES}],
                       'none', '', 'CNY', amount, CASE WHEN g % 10 = 3 THEN round(amount * 0.3, 2) ELSE 0 END,
                       CASE WHEN g % 10 = 3 THEN 'partially_refunded' ELSE 'paid' END,
                       now() - (random() * 730) * interval '1 day', now(), now()
                FROM (SELECT g, 1 + (g * 7919) % {n} AS m,
                             round((20 + 2980 * power(((g * 7919) % {n} * 2654435761 % 1000) / 1000.0, 3)
                                    * (0.5 + random()))::numeric, 2) AS amount
                      FROM generate_series({lo}::bigint, {hi}::bigint) AS g) AS x""")
    log(f"orders: {total:,} in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    execute("VACUUM ANALYZE")
    log(f"vacuum analyze: {time.perf_counter() - started:.0f} s")


def floor_seconds(window_days: int) -> float:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        started = time.perf_counter()
        cursor.execute(
            "CREATE TEMP TABLE tier_floor ON COMMIT DROP AS SELECT member_id, sum(total_amount - refunded_amount) "
            "AS value FROM orders_order WHERE member_id IS NOT NULL AND placed_at >= %s AND placed_at < %s "
            "AND currency = 'CNY' GROUP BY member_id",
            [timezone.now() - datetime.timedelta(days=window_days), timezone.now() + datetime.timedelta(days=1)],
        )
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM tier_floor")
        rows = cursor.fetchone()[0]
    log(f"floor: {rows:,} members' sums in {seconds:.1f} s")
    return seconds


def ours(**kwargs) -> tuple[float, object]:
    from tiers.services import recalculate_tiers

    started = time.perf_counter()
    result = recalculate_tiers(**kwargs)
    seconds = time.perf_counter() - started
    log(
        f"ours {kwargs.get('reason', '')}: {seconds:.1f} s, {result.members_written:,} rows written, "
        f"{result.upgrades:,} up, {result.downgrades:,} down"
    )
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orders-per-member", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1_000_000, help="members per generation transaction")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the floor and the steady recalculation")
    parser.add_argument("--database", default="bench_siyu_tiers")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    original = connection.settings_dict["NAME"]
    create_database(args.database)
    try:
        generate(args.members, args.orders_per_member, args.batch)
        from tiers.models import ChangeReason, MemberTier

        floors = [floor_seconds(365) for _ in range(args.runs)]
        first, first_result = ours(reason=ChangeReason.NIGHTLY)
        steady = [ours(reason=ChangeReason.NIGHTLY)[0] for _ in range(args.runs)]
        week, week_result = ours(reason=ChangeReason.NIGHTLY, now=timezone.now() + datetime.timedelta(days=7))
        sample = list(MemberTier.objects.order_by("?").values_list("member_id", flat=True)[:100])
        prompt = []
        for _ in range(5):
            started = time.perf_counter()
            from tiers.services import recalculate_tiers

            recalculate_tiers(member_ids=sample, reason=ChangeReason.ORDER)
            prompt.append(time.perf_counter() - started)
        distribution = execute(
            "SELECT l.name, count(*) FROM tiers_membertier t JOIN tiers_tierlevel l "
            "ON l.id = t.level_id GROUP BY l.rank, l.name ORDER BY l.rank"
        )
        floor = statistics.median(floors)
        print()
        print(f"{args.members:,} members, {args.members * args.orders_per_member:,} orders, window 365 days")
        print("| run | seconds | rows written | / floor |")
        print("| --- | ---: | ---: | ---: |")
        print(f"| floor: aggregate into a temp table (median of {args.runs}) | {floor:.1f} | – | 1.00 |")
        print(
            f"| ours, first run (every member ranked) | {first:.1f} | {first_result.members_written:,} | "
            f"{first / floor:.2f} |"
        )
        print(
            f"| ours, steady (median of {args.runs}, nothing moved) | {statistics.median(steady):.1f} | 0 | "
            f"{statistics.median(steady) / floor:.2f} |"
        )
        print(
            f"| ours, a week later (window slid) | {week:.1f} | {week_result.members_written:,} | {week / floor:.2f} |"
        )
        print(f"| prompt: 100 members (median of 5) | {statistics.median(prompt) * 1000:.0f} ms | – | – |")
        print()
        print("levels: " + ", ".join(f"{name} {n:,}" for name, n in distribution))
    finally:
        if not args.keep:
            connection.close()
            connection.settings_dict["NAME"] = original
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
