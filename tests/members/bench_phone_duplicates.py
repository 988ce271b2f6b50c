"""Same-phone duplicate finder at scale: the index-based query beside the former scan of every live member.

    .venv/bin/python tests/members/bench_phone_duplicates.py --members 100000

A command, not a test (pytest does not collect it). It creates its own database (bench_siyu_phones
by default, dropped and created again), migrates it, generates N members over 50 stores (0.5% of
phones shared by two or three members, 1% of members merged, 1% erased), VACUUM ANALYZEs, then times
(median of --runs after a warm-up) for an operator and a store manager:
- "scan": the former query, GROUP BY phone over every live member in reach;
- "index": members.services.merge.duplicate_candidates (shared phones from the phone index, then
  the few rows holding them);
- "touched": the same for 1,000 given phones (what an import or an edit checks).
Every answer is asserted equal to the scan's.
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

django.setup()

from django.contrib.postgres.aggregates import ArrayAgg  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402


def execute(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def create_database(name: str) -> None:
    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{name}"')
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)


def seed(n: int):
    from scrm.models import Region, Store, User

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create([Store(code=f"B{i:03d}", name=f"Store {i}", region=region, city="上海")
                                        for i in range(50)])
    operator = User.objects.create(username="bench_operator", role="operator")
    manager = User.objects.create(username="bench_manager", role="store_manager", store=stores[0])
    store_ids = "{" + ",".join(str(s.pk) for s in stores) + "}"
    # Every 200th member shares the phone of the member before it (and every 600th of the two before).
    execute(f"""
        INSERT INTO members_member (id, name, phone, gender, home_store_id, source, stage, attributes,
                                    created_at, updated_at, merged_into_id, erased_at)
        SELECT g, 'm' || g,
               '+86139' || lpad((CASE WHEN g %% 600 = 0 THEN g - 2 WHEN g %% 200 = 0 THEN g - 1 ELSE g END)::text,
                                8, '0'),
               'u', ('{store_ids}'::bigint[])[1 + g %% 50], 'import', 'aware', '{{}}', now(), now(),
               CASE WHEN g %% 100 = 7 AND g > 1 THEN 1 END, CASE WHEN g %% 100 = 13 THEN now() END
        FROM generate_series(1, %s) g""", [n])
    execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), %s)", [n])
    execute("VACUUM ANALYZE members_member")
    return operator, manager


def scan(actor, limit):
    """The former query: every live member in reach, grouped by phone."""
    from members.models import Member
    from scrm.scoping import scope

    live = scope(Member.live.all(), actor)
    groups = (live.exclude(phone="").order_by().values("phone")
              .annotate(ids=ArrayAgg("id", order_by="id"), n=Count("id")).filter(n__gt=1).order_by("phone")[:limit])
    return [(g["ids"][0], tuple(g["ids"][1:])) for g in groups]


def timed(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--database", default="bench_siyu_phones")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    from members.services import merge

    original = connection.settings_dict["NAME"]
    create_database(args.database)
    try:
        operator, manager = seed(args.members)
        touched = [p for (p,) in execute("SELECT phone FROM members_member ORDER BY id DESC LIMIT 1000")]
        print(f"{args.members:,} members, PostgreSQL {execute('SHOW server_version')[0][0]}, "
              f"{os.cpu_count()} cores, median of {args.runs} runs, limit {args.limit}")
        print(f"{'actor':10} {'scan ms':>9} {'index ms':>9} {'touched ms':>11} {'groups':>7}")
        for label, actor in (("operator", operator), ("manager", manager)):
            scan_ms, expected = timed(lambda a=actor: scan(a, args.limit), args.runs)
            index_ms, found = timed(lambda a=actor: merge.duplicate_candidates(
                actor=a, rule=merge.SAME_PHONE, limit=args.limit), args.runs)
            assert [(c.survivor_id, c.duplicate_ids) for c in found] == expected
            touched_ms, some = timed(lambda a=actor: merge.duplicate_candidates(
                actor=a, rule=merge.SAME_PHONE, limit=args.limit, phones=touched), args.runs)
            wanted = {g for g in scan(actor, 10 ** 9)
                      if any(p in touched for (p,) in execute("SELECT phone FROM members_member WHERE id = %s",
                                                              [g[0]]))}
            assert {(c.survivor_id, c.duplicate_ids) for c in some} == set(sorted(wanted)[:args.limit])
            print(f"{label:10} {scan_ms:9.1f} {index_ms:9.1f} {touched_ms:11.1f} {len(expected):7}")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        if not args.keep:
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
