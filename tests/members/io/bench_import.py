"""Member import throughput: our whole path (parse, COPY to staging, validate, write) beside raw COPY.

    .venv/bin/python tests/members/io/bench_import.py --rows 100000
    .venv/bin/python tests/members/io/bench_import.py --rows 1000000

A command, not a test (pytest does not collect it). It creates its own database (bench_siyu_io by
default, dropped and created again), migrates it, seeds 50 stores, 500 staff and a tag vocabulary,
writes a CSV of N new members (name, phone, gender, store, owner, wecom id, 1-3 tags, an attribute),
then:
1. imports it as an operator through members.io.services (the same code the dashboard and the
   Celery task run), valid_rows mode: all members are new;
2. imports it again: every row now matches its member by identity (all updates, no new tags);
3. "raw": COPY of the same rows, already typed, straight into the tables an import writes
   (members_member; members_identity: wecom and phone; members_membertag with added_by;
   members_staffrelation for the owner): the floor any import pays for those tables' indexes,
   foreign keys and the segments triggers, with no parsing and no checks.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import UploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

N_STORES, N_STAFF = 50, 500
TAGS = [("口味偏好", ["黑巧", "牛奶巧", "白巧", "坚果夹心", "低糖"]),
        ("购买场景", ["节日送礼", "自用解馋", "办公室分享"]),
        ("渠道偏好", ["门店", "天猫", "抖音直播", "小程序"])]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


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


def seed():
    from members.models import AttributeDefinition, Tag, TagGroup
    from scrm.models import Region, Store, User

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"B{i:03d}", name=f"Store {i}", region=region, city="上海") for i in range(N_STORES)])
    staff = User.objects.bulk_create(
        [User(username=f"staff{i}", role="store_staff", store=stores[i % N_STORES]) for i in range(N_STAFF)])
    operator = User.objects.create(username="bench_operator", role="operator")
    for group_name, names in TAGS:
        group = TagGroup.objects.create(name=group_name)
        for name in names:
            Tag.objects.create(group=group, name=name)
    AttributeDefinition.objects.create(code="favourite_cacao", label="偏好可可含量", type="choice",
                                       choices=["35%", "55%", "70%", "85%"])
    return stores, staff, operator


def write_csv(path: Path, n: int, stores, staff) -> None:
    rng = random.Random(42)
    tag_items = [f"{g}:{t}" for g, names in TAGS for t in names]
    cacao = ["35%", "55%", "70%", "85%", ""]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone", "gender", "home_store", "owner", "wecom", "tags", "attr:favourite_cacao"])
        for i in range(n):
            s = i % N_STAFF
            writer.writerow([
                f"会员{i}", f"1{rng.choice('3578')}{i:09d}", "fmu"[i % 3], stores[s % N_STORES].code,
                staff[s].username, f"wm{i:012d}", ";".join(rng.sample(tag_items, 1 + i % 3)), cacao[i % 5],
            ])


def run(path: Path, operator, mode="valid_rows"):
    from members.io import services

    with open(path, "rb") as fh:
        upload = UploadedFile(fh, name=path.name, size=path.stat().st_size)
        job = services.create_import(actor=operator, upload=upload, mode=mode)
    started = time.perf_counter()
    job = services.run_import(job_id=job.pk)
    return job, time.perf_counter() - started


def raw_copy(n: int, stores, staff, operator) -> float:
    """Typed rows straight into the tables (COPY from server-generated data: no parsing, no checks)."""
    store_ids = "{" + ",".join(str(s.pk) for s in stores) + "}"
    staff_ids = "{" + ",".join(str(s.pk) for s in staff) + "}"
    execute("TRUNCATE members_staffrelation, members_membertag, members_identity, members_member CASCADE")
    workdir = Path(tempfile.mkdtemp(prefix="siyu-io-bench-"))
    files = {}
    with connection.cursor() as cursor:
        for name, sql in {
            "member": f"""SELECT g, '会员' || g, '+861' || (3 + g % 3) || lpad(g::text, 9, '0'),
                          (ARRAY['f','m','u'])[1 + g % 3],
                          ('{store_ids}'::bigint[])[1 + (g % 500) % 50], ('{staff_ids}'::bigint[])[1 + g % 500],
                          'import', 'aware', '{{}}', now(), now() FROM generate_series(1, {n}) g""",
            "identity": f"""SELECT g, 'wecom', '', 'wm' || lpad(g::text, 12, '0'), now() FROM generate_series(1, {n}) g
                            UNION ALL SELECT g, 'phone', '', '+861' || (3 + g % 3) || lpad(g::text, 9, '0'), now()
                            FROM generate_series(1, {n}) g""",
            "tag": f"""SELECT g, t, 'import', {operator.pk}, now() FROM generate_series(1, {n}) g,
                       LATERAL (SELECT id AS t FROM members_tag ORDER BY id LIMIT 1 + g % 3) x""",
            "relation": f"""SELECT g, ('{staff_ids}'::bigint[])[1 + g % 500],
                            ('{store_ids}'::bigint[])[1 + (g % 500) % 50],
                            'import', '', '', '', true, now() FROM generate_series(1, {n}) g""",
        }.items():
            files[name] = workdir / f"{name}.copy"
            with open(files[name], "w") as fh:
                cursor.copy_expert(f"COPY ({sql}) TO STDOUT", fh)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # cheaper than deferred checks, as ours does
        for name, columns in {
            "member": "id, name, phone, gender, home_store_id, owner_id, source, stage, attributes, created_at, "
                      "updated_at",
            "identity": "member_id, channel, namespace, external_id, created_at",
            "tag": "member_id, tag_id, source, added_by_id, added_at",
            "relation": "member_id, staff_id, store_id, add_way, state, remark, description, is_owner, added_at",
        }.items():
            table = {"tag": "membertag", "relation": "staffrelation"}.get(name, name)
            with open(files[name]) as fh:
                cursor.copy_expert(f"COPY members_{table} ({columns}) FROM STDIN", fh)
    elapsed = time.perf_counter() - started
    for f in files.values():
        f.unlink()
    workdir.rmdir()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", default="bench_siyu_io")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--trace", action="store_true", help="log each SQL statement's time")
    args = parser.parse_args()
    from django.conf import settings

    if args.trace:
        import logging

        logging.getLogger("members.io.bulk").setLevel(logging.DEBUG)

    settings.MEMBER_IMPORT_MAX_BYTES = 10 * 1024 ** 3
    original = connection.settings_dict["NAME"]
    log(f"creating database {args.database}")
    create_database(args.database)
    stores, staff, operator = seed()
    workdir = Path(tempfile.mkdtemp(prefix="siyu-io-"))
    settings.MEDIA_ROOT = str(workdir / "media")
    path = workdir / "members.csv"
    log(f"writing {args.rows:,} rows to {path}")
    write_csv(path, args.rows, stores, staff)
    size_mb = path.stat().st_size / 1024 ** 2
    results = []
    for label in ("new members", "same file again (updates)"):
        log(f"import: {label}")
        job, elapsed = run(path, operator)
        assert job.status == "done", (job.status, job.message, job.errors[:3])
        log(f"{job.message} {job.timings}")
        results.append((label, elapsed, job.timings))
    execute("VACUUM ANALYZE members_member")
    log("raw COPY of the same rows")
    raw = raw_copy(args.rows, stores, staff, operator)
    print()
    print(f"Siyu member import: {args.rows:,} rows, CSV {size_mb:.0f} MB; PostgreSQL "
          f"{execute('SHOW server_version')[0][0]}, {os.cpu_count()} cores")
    print(f"{'':32} {'seconds':>8} {'rows/s':>10}   phases (s)")
    for label, elapsed, timings in results:
        phases = ", ".join(f"{k} {v:.1f}" for k, v in timings.items() if k != "total")
        print(f"{'ours: ' + label:32} {elapsed:>8.1f} {args.rows / elapsed:>10,.0f}   {phases}")
    print(f"{'raw COPY of the same rows':32} {raw:>8.1f} {args.rows / raw:>10,.0f}")
    print(f"ours / raw (new members): {raw / results[0][1]:.2f} of raw's rate")
    connection.close()
    connection.settings_dict["NAME"] = original
    if not args.keep:
        execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    path.unlink()


if __name__ == "__main__":
    main()
