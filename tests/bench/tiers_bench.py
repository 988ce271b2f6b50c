"""Tier recalculation at scale, beside the single aggregate SQL that is its floor, in the same run.

    .venv/bin/python tests/bench/tiers_bench.py --members 1000000      # default: 1M members, 5M orders
    .venv/bin/python tests/bench/tiers_bench.py --members 10000000     # the target: 10M members, 50M orders

A command, not part of CI. It creates its own database (bench_siyu_tiers by default, dropped and
created again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. generates N members (50 stores, 1% merged, 1% erased) and about 5 x N orders over the last two
   years server-side with generate_series, into tables stripped of their secondary indexes and
   constraints, which are rebuilt afterwards (set-up, not timed); orders per member are skewed (a
   third of members none, a long tail of heavy buyers), 10% refunded in part or in full;
2. times the floor: CREATE TEMP TABLE AS SELECT member_id, sum(total - refunded) ... GROUP BY over
   the window (the one aggregate any recalculation must do), with the same work_mem;
3. times ours, recalculate_tiers() for everyone: the first run (every member gets a row and a
   history entry) and a run with nothing changed;
4. --runs nightly runs: a day's new members, orders and refunds are added (not timed), then the
   floor and the nightly recalculation of the next day (incremental: only the members whose row
   can have moved since the last run are read) are timed back to back; then a full run (everyone
   read) must find nothing left to write;
5. times a ladder change: the thresholds move so that a good share of members move up, and
   everyone is recalculated (a full run, as after any ladder change);
6. times a prompt recalculation of 100 members (what an order batch queues).

--statements prints each statement of ours that took over a second, with its time.
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

from scrm import embedded  # noqa: E402

embedded.prepare()  # start the embedded servers when DATABASE_URL / REDIS_URL are not set
django.setup()

from benchdb import create_database, execute, log  # noqa: E402
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
# The ladder change: lower thresholds, so members between the old and the new ones move up.
CHANGED_THRESHOLDS = [0, 150, 500, 1500, 4000, 8000]
MEMBER_TRIGGERS = [
    "member_segments_member_insert",
    "member_segments_member_delete",
    "member_segments_member_update",
    "member_segments_member_truncate",
]


def log_step(label: str, started: float) -> None:
    log(f"{label} in {time.perf_counter() - started:.0f} s")


def stripped(table: str):
    """Drop `table`'s secondary indexes and its unique, check and foreign-key constraints (the
    primary key stays); return the statements that put them back. Loading into the bare table and
    building each index once is the set-up a bulk load deserves: row by row, every index, check and
    foreign-key lookup costs each of tens of millions of rows."""
    constraints = execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype IN ('u', 'c', 'f', 'x') ORDER BY contype DESC, conname",
        [table],
    )
    indexes = execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.conrelid = x.indrelid)",
        [table],
    )
    for name, _definition in constraints:
        execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints
    ]


def restore(table: str, statements: list[str]) -> None:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for statement in statements:
            cursor.execute(statement)
    log_step(f"{table}: {len(statements)} indexes and constraints rebuilt", started)


MEMBERS_SQL = """
    INSERT INTO members_member (id, name, phone, gender, home_store_id, source, stage, attributes,
                                merged_into_id, erased_at, created_at, updated_at)
    SELECT g, '会员' || g, '', 'u', (%(stores)s::bigint[])[1 + g %% {stores}], 'other', 'aware', '{{}}',
           CASE WHEN g %% 100 = 0 AND g > 1 THEN g - 1 END, CASE WHEN g %% 100 = 1 THEN %(base)s END,
           %(base)s - interval '1 day' * (730 * g / %(n)s), %(base)s
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
"""

# Orders per member follow a capped Lomax (Pareto II) draw, mean about `per_member`: ~40% of
# members have none, the median member one, a long tail of heavy buyers (up to 400). Order values
# are log-normal (median ~90 yuan) scaled by a per-member taste, so the levels fill like a real
# brand's; 8% of orders are partly and 2% fully refunded; 1% have no member yet. Orders span the
# last two years, so the 365-day window halves what counts.
ORDERS_SQL = """
    INSERT INTO orders_order (channel, external_id, member_id, buyer_channel, buyer_namespace,
        buyer_external_id, store_id, attribution, referral_code, currency, total_amount,
        refunded_amount, status, placed_at, created_at, updated_at)
    SELECT (ARRAY['pos','tmall','douyin','miniprogram'])[1 + (m + j) %% 4], %(prefix)s || m || '-' || j,
           CASE WHEN r >= 0.01 THEN m END, '', '', '', (%(stores)s::bigint[])[1 + m %% {stores}],
           'none', '', 'CNY', amount,
           CASE WHEN r < 0.02 THEN amount WHEN r < 0.10 THEN round(amount * 0.3, 2) ELSE 0 END,
           CASE WHEN r < 0.02 THEN 'refunded' WHEN r < 0.10 THEN 'partially_refunded' ELSE 'paid' END,
           placed, placed, placed
    FROM (
        SELECT m, j, random() AS r,
               round(least(50000, exp(4.5 + 0.8 * random_normal()) * taste)::numeric, 2) AS amount,
               %(from)s + random() * %(span)s AS placed
        FROM (SELECT m, taste, least(400, floor(%(scale)s * (power(1 - random(), -1 / 1.6) - 1)))::int AS k
              FROM (SELECT m, exp(0.5 * random_normal()) AS taste
                    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS m) AS t) AS members
        CROSS JOIN LATERAL generate_series(1, members.k) AS j
    ) AS x
"""


def generate(n: int, orders_per_member: float, batch: int, base: datetime.datetime) -> int:
    from loyalty.tiers.models import TierLadder, TierLevel
    from scrm.models import Region, Store

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"B{i:03d}", name=f"Store {i}", region=region, city="上海") for i in range(N_STORES)]
    )
    ladder = TierLadder.objects.create(pk=1, name="bench", window_days=365)
    TierLevel.objects.bulk_create(
        [
            TierLevel(ladder=ladder, rank=i + 1, name=name, threshold=threshold)
            for i, (name, threshold) in enumerate(LEVELS)
        ]
    )
    params = {"stores": [s.pk for s in stores], "base": base, "n": n}
    # The segments index triggers are the member centre's cost, not this benchmark's subject.
    for trigger in MEMBER_TRIGGERS:
        execute(f"ALTER TABLE members_member DISABLE TRIGGER {trigger}")
    execute("SELECT setseed(0.42)")
    members_restore = stripped("members_member")
    orders_restore = stripped("orders_order")
    started = time.perf_counter()
    for lo in range(1, n + 1, batch):
        with transaction.atomic():
            execute(MEMBERS_SQL.format(stores=N_STORES), {**params, "lo": lo, "hi": min(n, lo + batch - 1)})
    log_step(f"members: {n:,} generated", started)
    execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), %s)", [n])
    started = time.perf_counter()
    # (power(1-u, -1/a) - 1) has mean 1/(a-1); the cap trims the mean a little.
    scale = orders_per_member * 0.6 * 1.18
    for lo in range(1, n + 1, batch):
        with transaction.atomic():
            execute(
                ORDERS_SQL.format(stores=N_STORES),
                {
                    **params,
                    "lo": lo,
                    "hi": min(n, lo + batch - 1),
                    "prefix": "B",
                    "scale": scale,
                    "from": base - datetime.timedelta(days=730),
                    "span": datetime.timedelta(days=730),
                },
            )
    total = execute("SELECT count(*) FROM orders_order")[0][0]
    log_step(f"orders: {total:,} generated", started)
    restore("members_member", members_restore)
    restore("orders_order", orders_restore)
    started = time.perf_counter()
    execute("VACUUM ANALYZE")
    log_step("vacuum analyze", started)
    return total


def next_day(n: int, orders_per_member: float, base: datetime.datetime, day: int) -> dict:
    """A day of business before the nightly run `day` days after `base` (set-up, not timed): a
    day's new members (some of them buying at once), a day's orders, and refunds on a day's worth
    of recent orders."""
    day_start = base + datetime.timedelta(days=day - 1)
    new_members = max(1, n // 2000)
    first = execute("SELECT max(id) + 1 FROM members_member")[0][0]
    last = first + new_members - 1
    stores = [s for (s,) in execute("SELECT id FROM scrm_store ORDER BY id")]
    orders = int(n * orders_per_member / 730)  # a 730th of two years' orders
    with transaction.atomic():
        execute(
            MEMBERS_SQL.format(stores=N_STORES),
            {"stores": stores, "base": day_start, "n": 10**12, "lo": first, "hi": last},
        )
        execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), %s)", [last])
        execute(
            f"""
            INSERT INTO orders_order (channel, external_id, member_id, buyer_channel, buyer_namespace,
                buyer_external_id, store_id, attribution, referral_code, currency, total_amount,
                refunded_amount, status, placed_at, created_at, updated_at)
            SELECT 'pos', 'D{day}-' || g, m, '', '', '', (%(stores)s::bigint[])[1 + m %% {N_STORES}], 'none', '',
                   'CNY', round(least(50000, exp(4.5 + 0.8 * random_normal()))::numeric, 2), 0, 'paid',
                   placed, placed, placed
            FROM (SELECT g, 1 + floor(random() * %(last)s)::bigint AS m,
                         %(start)s + random() * interval '1 day' AS placed
                  FROM generate_series(1, %(orders)s) AS g) AS x""",
            {"stores": stores, "last": last, "start": day_start, "orders": orders},
        )
        # Refunds: about one order in 20 of a day's worth, taken from the last 30 days' orders.
        refunds = execute(
            """
            UPDATE orders_order SET refunded_amount = total_amount, status = 'refunded', updated_at = %(start)s
            WHERE id IN (SELECT id FROM orders_order WHERE placed_at >= %(since)s AND placed_at < %(start)s
                         AND refunded_amount = 0 AND member_id IS NOT NULL AND random() < 0.05 / 30)
            RETURNING id""",
            {"since": day_start - datetime.timedelta(days=30), "start": day_start},
        )
    execute("ANALYZE orders_order")
    return {"new_members": new_members, "orders": orders, "refunds": len(refunds)}


def floor_seconds(window_days: int, now: datetime.datetime) -> float:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        started = time.perf_counter()
        cursor.execute(
            "CREATE TEMP TABLE tier_floor ON COMMIT DROP AS SELECT member_id, sum(total_amount - refunded_amount) "
            "AS value FROM orders_order WHERE member_id IS NOT NULL AND placed_at >= %s AND placed_at < %s "
            "AND currency = 'CNY' GROUP BY member_id",
            [now - datetime.timedelta(days=window_days), now + datetime.timedelta(days=1)],
        )
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM tier_floor")
        rows = cursor.fetchone()[0]
    log(f"floor: {rows:,} members' sums in {seconds:.1f} s")
    return seconds


def ours(label: str, **kwargs) -> tuple[float, object]:
    from loyalty.tiers.services import recalculate_tiers

    started = time.perf_counter()
    cpu = time.process_time()
    result = recalculate_tiers(**kwargs)
    seconds = time.perf_counter() - started
    read = "everyone read" if result.full else f"{result.candidates:,} members read"
    log(
        f"ours, {label}: {seconds:.1f} s ({read}), {result.members_written:,} rows written, "
        f"{result.upgrades:,} up, {result.downgrades:,} down (client CPU {time.process_time() - cpu:.1f} s, "
        f"load {os.getloadavg()[0]:.1f})"
    )
    return seconds, result


def slow_statements(execute_, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute_(sql, params, many, context)
    finally:
        seconds = time.perf_counter() - started
        if seconds >= 1:
            log(f"  statement {seconds:.1f} s: {' '.join(sql.split())[:110]}")


def change_ladder() -> None:
    from loyalty.tiers.models import TierLevel

    for level in TierLevel.objects.order_by("rank"):
        level.threshold = CHANGED_THRESHOLDS[level.rank - 1]
        level.save(update_fields=["threshold"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orders-per-member", type=float, default=5)
    parser.add_argument("--batch", type=int, default=1_000_000, help="members per generation transaction")
    parser.add_argument("--runs", type=int, default=3, help="nightly runs (each a new day), each beside a floor")
    parser.add_argument("--database", default="bench_siyu_tiers")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--statements", action="store_true", help="print our statements that took over 1 s")
    args = parser.parse_args()
    if args.statements:
        connection.execute_wrappers.append(slow_statements)
    original = connection.settings_dict["NAME"]
    create_database(args.database)
    try:
        from loyalty.tiers.models import ChangeReason, MemberTier
        from loyalty.tiers.services import recalculate_tiers

        base = timezone.now()
        total = generate(args.members, args.orders_per_member, args.batch, base)
        shape = execute(
            "SELECT count(*) FILTER (WHERE k = 0), count(*) FILTER (WHERE k BETWEEN 1 AND 2), "
            "count(*) FILTER (WHERE k >= 20), max(k) FROM (SELECT m.id, count(o.id) AS k FROM members_member m "
            "LEFT JOIN orders_order o ON o.member_id = m.id GROUP BY m.id) AS x"
        )[0]
        log(
            f"orders per member: {shape[0]:,} with none, {shape[1]:,} with 1-2, {shape[2]:,} with 20 or more, "
            f"at most {shape[3]}"
        )
        first_floor = floor_seconds(365, base)
        first, first_result = ours("first run", reason=ChangeReason.NIGHTLY, now=base)
        steady_floor = floor_seconds(365, base)
        steady, _result = ours("nothing moved", reason=ChangeReason.NIGHTLY, now=base)
        nights = []
        for day in range(1, args.runs + 1):
            started = time.perf_counter()
            business = next_day(args.members, args.orders_per_member, base, day)
            log_step(
                f"day {day}: {business['new_members']:,} new members, {business['orders']:,} orders, "
                f"{business['refunds']:,} refunds",
                started,
            )
            now = base + datetime.timedelta(days=day)
            floor = floor_seconds(365, now)
            seconds, result = ours(f"nightly, day {day}", reason=ChangeReason.NIGHTLY, now=now)
            nights.append((floor, seconds, result))
        check_seconds, check = ours("full run after the nightly ones", reason=ChangeReason.NIGHTLY, now=now, full=True)
        if check.members_written:
            log(f"MISMATCH: the full run wrote {check.members_written:,} rows the incremental runs had left")
        ladder_floor = floor_seconds(365, now)
        change_ladder()
        ladder_seconds, ladder_result = ours("ladder change", reason=ChangeReason.POLICY, now=now)
        sample = list(MemberTier.objects.order_by("?").values_list("member_id", flat=True)[:100])
        prompt = []
        for _ in range(5):
            started = time.perf_counter()
            recalculate_tiers(member_ids=sample, reason=ChangeReason.ORDER, now=now)
            prompt.append(time.perf_counter() - started)
        distribution = execute(
            "SELECT l.name, count(*) FROM tiers_membertier t JOIN tiers_tierlevel l "
            "ON l.id = t.level_id GROUP BY l.rank, l.name ORDER BY l.rank"
        )
        live = execute("SELECT count(*) FROM members_member WHERE merged_into_id IS NULL AND erased_at IS NULL")[0][0]
        floors = [f for f, _s, _r in nights]
        ratios = [s / f for f, s, _r in nights]
        print()
        print(
            f"{args.members:,} members ({live:,} live at the end), {total:,} orders, window 365 days, "
            f"{time.strftime('%Y-%m-%d')}, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        print("| run | seconds | rows written | moves (up / down) | / floor |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print(f"| floor before the first run | {first_floor:.1f} | – | – | 1.00 |")
        print(
            f"| ours, first run (everyone ranked) | {first:.1f} | {first_result.members_written:,} | "
            f"{first_result.upgrades:,} / {first_result.downgrades:,} | {first / first_floor:.2f} |"
        )
        print(f"| ours, nothing moved | {steady:.1f} | 0 | – | {steady / steady_floor:.2f} |")
        for day, (floor, seconds, result) in enumerate(nights, 1):
            print(
                f"| nightly, day {day}: floor {floor:.1f} s, ours ({result.candidates:,} members read) | "
                f"{seconds:.1f} | {result.members_written:,} | "
                f"{result.upgrades:,} / {result.downgrades:,} | {seconds / floor:.2f} |"
            )
        print(
            f"| nightly, median of {args.runs} | {statistics.median(s for _f, s, _r in nights):.1f} | – | – | "
            f"{statistics.median(ratios):.2f} (floor median {statistics.median(floors):.1f} s) |"
        )
        print(
            f"| full run after them (everyone read, must write 0) | {check_seconds:.1f} | "
            f"{check.members_written:,} | – | – |"
        )
        print(
            f"| ladder change (thresholds {CHANGED_THRESHOLDS}), floor {ladder_floor:.1f} s | {ladder_seconds:.1f} | "
            f"{ladder_result.members_written:,} | {ladder_result.upgrades:,} / {ladder_result.downgrades:,} | "
            f"{ladder_seconds / ladder_floor:.2f} |"
        )
        print(f"| prompt: 100 members (median of 5) | {statistics.median(prompt) * 1000:.0f} ms | – | – | – |")
        print()
        print("levels: " + ", ".join(f"{name} {n:,}" for name, n in distribution))
    finally:
        if not args.keep:
            connection.close()
            connection.settings_dict["NAME"] = original
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
