"""First load: members per second beside a bare-table COPY of the same rows, in the same run.

    .venv/bin/python tests/bench/first_load_bench.py --members 1000000
    .venv/bin/python tests/bench/first_load_bench.py --members 50000 --import   # and the normal import

A command, not a test. Its own database (bench_siyu_first_load, dropped and created again,
migrated), 50 stores, 50 guides, 20 tag groups of 10 tags, three custom attributes. One CSV of N
rows in the import's format: name, phone, gender, birthday, store, guide (half the rows), stage,
wecom id, 1-5 tags, three attributes, marketing and profiling consent.

1. floor: the rows a load of the file writes (members, identities for phone and wecom, tag links,
   owner relations, consent, consent records, member events, the event log's member.joined,
   member.tag_added and member.consent_changed), written as COPY files beforehand (not timed),
   then COPYed into tables LIKE the real ones with no index, no constraint and no trigger;
   members/s is N over the COPYs' time;
2. ours: `members.io.first_load.run` of the CSV into the empty pool: reading and checking the file,
   writing members, identities, tags, owner relations, consent, consent records, member events
   and the event log, rebuilding every index and constraint, the bitmap index, ANALYZE;
3. with --import: the normal import of the same file (create_import + run_import, strict), after
   the tables are emptied, for comparison.
The target: ours at least half the floor.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

from scrm import embedded  # noqa: E402

embedded.prepare()

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from tests.bench.benchdb import create_database, execute, log  # noqa: E402

STORES, GUIDES, GROUPS, TAGS_PER_GROUP = 50, 50, 20, 10
STAGES = ("aware", "appeal", "ask", "act", "advocate")
FLOOR_TABLES = ("members_member", "members_identity", "members_membertag", "members_staffrelation",
                "members_consent", "members_consentrecord", "members_memberevent", "scrm_event")


def setup_brand():
    from members.models import AttributeDefinition, Tag, TagGroup
    from scrm.models import Region, Store, User

    region = Region.objects.create(code="bench", name="Bench")
    stores = [Store.objects.create(code=f"S{i:03d}", name=f"Store {i}", region=region, city="上海")
              for i in range(STORES)]
    for i in range(GUIDES):
        User.objects.create(username=f"guide{i}", role="store_staff", store=stores[i % STORES])
    operator = User.objects.create(username="bench_operator", role="operator")
    tags = []
    for g in range(GROUPS):
        group = TagGroup.objects.create(name=f"group{g}", multiple=g % 4 != 0)
        tags += [(group.name, Tag.objects.create(group=group, name=f"tag{g}_{t}").name) for t in range(TAGS_PER_GROUP)]
    AttributeDefinition.objects.create(code="kids", label="孩子数", type="number")
    AttributeDefinition.objects.create(code="cacao", label="可可", type="choice", choices=["35%", "55%", "70%"])
    AttributeDefinition.objects.create(code="first_visit", label="首次到店", type="date")
    return operator, stores, tags


def existing_brand():
    from members.models import Tag
    from scrm.models import Store, User

    stores = list(Store.objects.order_by("code"))
    tags = [(t.group.name, t.name) for t in Tag.objects.select_related("group").order_by("id")]
    return User.objects.get(username="bench_operator"), stores, tags


def member_rows(n: int, stores, tags):
    """The file's rows, drawn once (seeded) and used for the CSV and the floor alike."""
    rng = random.Random(7)
    for i in range(n):
        store = i % STORES
        guide = f"guide{store}" if i % 2 == 0 and store < GUIDES else ""
        picked, groups = [], set()
        for _ in range(rng.randint(1, 5)):
            group, tag = tags[rng.randrange(len(tags))]
            single = int(group.removeprefix("group")) % 4 == 0
            if single and group in groups:
                continue
            groups.add(group)
            if f"{group}:{tag}" not in picked:
                picked.append(f"{group}:{tag}")
        yield {
            "name": f"会员{i}", "phone": f"+861{'35789'[i % 5]}{i:09d}", "gender": "fmu"[i % 3],
            "birthday": f"19{60 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}", "store": stores[store],
            "store_code": f"S{store:03d}", "guide": guide, "stage": STAGES[i % 5], "wecom": f"wm{i:09d}",
            "tags": picked, "kids": i % 4, "cacao": ("35%", "55%", "70%")[i % 3],
            "first_visit": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "marketing": ("granted", "withdrawn", "")[i % 3], "profiling": ("granted", "")[i % 2],
        }


def write_csv(path: Path, n: int, stores, tags) -> None:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "phone", "gender", "birthday", "home_store", "owner", "stage", "wecom", "tags",
                         "attr:kids", "attr:cacao", "attr:first_visit", "consent:marketing", "consent:profiling"])
        for r in member_rows(n, stores, tags):
            writer.writerow([r["name"], r["phone"], r["gender"], r["birthday"], r["store_code"], r["guide"],
                             r["stage"], r["wecom"], ";".join(r["tags"]), r["kids"], r["cacao"], r["first_visit"],
                             r["marketing"], r["profiling"]])


def write_floor_files(workdir: Path, n: int, stores, tags) -> dict[str, Path]:
    """The rows a load of the file writes into the member tables, as COPY text files."""
    import csv
    import json

    from members.models import Tag

    tag_ids = {(t.group.name, t.name): t for t in Tag.objects.select_related("group")}
    guide_ids = dict(execute("SELECT username, id FROM scrm_user WHERE username LIKE 'guide%%'"))
    paths = {table: workdir / f"{table}.csv" for table in FLOOR_TABLES}
    now = "2026-12-03 00:00:00+00"
    with contextlib.ExitStack() as stack:
        writers = {table: csv.writer(stack.enter_context(open(path, "w", encoding="utf-8", newline="")))
                   for table, path in paths.items()}
        for i, r in enumerate(member_rows(n, stores, tags), start=1):
            attributes = json.dumps({"kids": r["kids"], "cacao": r["cacao"], "first_visit": r["first_visit"]},
                                    ensure_ascii=False)
            writers["members_member"].writerow([
                i, r["name"], r["phone"], r["gender"], r["birthday"], r["store"].pk, guide_ids.get(r["guide"], ""),
                "import", r["stage"], attributes, now, now])
            writers["members_identity"].writerow([2 * i - 1, i, "phone", "", r["phone"], now])
            writers["members_identity"].writerow([2 * i, i, "wecom", "", r["wecom"], now])
            store = r["store"].pk
            events = writers["scrm_event"]
            events.writerow(["member.joined", now, i, store, json.dumps({"source": "import", "channel": "phone"}), "f"])
            for item in r["tags"]:
                tag = tag_ids[tuple(item.split(":"))]
                writers["members_membertag"].writerow([i, tag.pk, "import", now])
                events.writerow(["member.tag_added", now, i, store, json.dumps({"tag": {
                    "id": tag.pk, "name": tag.name, "group": {"id": tag.group_id, "name": tag.group.name}}}), "f"])
            if r["guide"]:
                writers["members_staffrelation"].writerow([i, guide_ids[r["guide"]], store, "import", "", "", "",
                                                           "t", now])
            changed = []
            for purpose, answer in (("marketing", r["marketing"]), ("profiling", r["profiling"])):
                if answer:
                    granted = answer == "granted"
                    changed.append({"purpose": purpose, "channel": "all", "granted": granted})
                    writers["members_consent"].writerow([i, purpose, "all", granted, now])
                    writers["members_consentrecord"].writerow([i, purpose, "all", granted, "import", "", "", "",
                                                               now])
                    events.writerow(["member.consent_changed", now, i, store, json.dumps(
                        {"channel": "all", "purpose": purpose, "granted": granted}), "f"])
            if changed:
                writers["members_memberevent"].writerow(
                    [i, "consent", json.dumps({"source": "import", "changed": changed}), "", "", now])
    return paths


FLOOR_COLUMNS = {
    "members_member": "id, name, phone, gender, birthday, home_store_id, owner_id, source, stage, attributes, "
                      "created_at, updated_at",
    "members_identity": "id, member_id, channel, namespace, external_id, created_at",
    "members_membertag": "member_id, tag_id, source, added_at",
    "members_staffrelation": "member_id, staff_id, store_id, add_way, state, remark, description, is_owner, added_at",
    "members_consent": "member_id, purpose, channel, granted, updated_at",
    "members_consentrecord": "member_id, purpose, channel, granted, source, evidence, recorded_by_id, "
                             "recorded_by_label, recorded_at",
    "members_memberevent": "member_id, kind, data, actor_id, actor_label, created_at",
    "scrm_event": "type, occurred_at, member_id, store_id, data, relayed",
}
NOT_NULL_TEXT = {"members_identity": "namespace", "members_staffrelation": "state, remark, description",
                 "members_consentrecord": "evidence, recorded_by_label", "members_memberevent": "actor_label"}


def floor(paths: dict[str, Path]) -> float:
    """COPY the files into bare tables LIKE the real ones (defaults, no index, constraint or trigger)."""
    for table in FLOOR_TABLES:
        execute(f"DROP TABLE IF EXISTS bare_{table}; "
                f"CREATE TABLE bare_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)")
    execute("CHECKPOINT")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in FLOOR_TABLES:
            with open(paths[table], encoding="utf-8") as handle:
                extra = f", FORCE_NOT_NULL ({NOT_NULL_TEXT[table]})" if table in NOT_NULL_TEXT else ""
                cursor.cursor.copy_expert(
                    f"COPY bare_{table} ({FLOOR_COLUMNS[table]}) FROM STDIN (FORMAT csv{extra})", handle, 1 << 20)
    connection.commit() if not connection.get_autocommit() else None
    elapsed = time.perf_counter() - started
    counts = {table: execute(f"SELECT count(*) FROM bare_{table}")[0][0] for table in FLOOR_TABLES}
    log(f"floor rows: {counts}")
    for table in FLOOR_TABLES:
        execute(f"DROP TABLE bare_{table}")
    return elapsed


def empty_pool() -> None:
    from members.io import first_load

    execute(f"TRUNCATE {', '.join(first_load.TABLES)} RESTART IDENTITY CASCADE")
    execute("CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--database", default="bench_siyu_first_load")
    parser.add_argument("--import", dest="with_import", action="store_true", help="also time the normal import")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the database --keep kept (no migrating)")
    parser.add_argument("--files", help="a directory of files an earlier run (with --keep) left: not made again")
    parser.add_argument("--trace", action="store_true", help="log each SQL statement's time")
    args = parser.parse_args()
    if args.trace:
        import logging

        logging.basicConfig()
        logging.getLogger("members.io.bulk").setLevel(logging.DEBUG)
    from django.conf import settings

    from members.io import first_load

    n = args.members
    settings.MEMBER_IMPORT_MAX_BYTES = 10 * 1024**3
    settings.MEMBER_IMPORT_MAX_ROWS = 50_000_000
    settings.MEMBER_IMPORT_TIME_LIMIT = 6 * 3600
    original = connection.settings_dict["NAME"]
    if args.reuse:
        connection.close()
        connection.settings_dict["NAME"] = args.database
        empty_pool()
    else:
        log(f"creating database {args.database}")
        create_database(args.database)
    workdir = Path(args.files) if args.files else Path(tempfile.mkdtemp(prefix="siyu-first-load-bench-"))
    settings.MEDIA_ROOT = str(workdir / "media")
    try:
        operator, stores, tags = existing_brand() if args.reuse else setup_brand()
        path = workdir / "members.csv"
        if args.files:
            paths = {table: workdir / f"{table}.csv" for table in FLOOR_TABLES}
        else:
            write_csv(path, n, stores, tags)
            paths = write_floor_files(workdir, n, stores, tags)
        log(f"{n:,} rows, {path.stat().st_size / 1024**2:.1f} MB")
        floor_seconds = floor(paths)
        log(f"floor: {floor_seconds:.1f} s, {n / floor_seconds:,.0f} members/s")
        empty_pool()
        result = first_load.run(path, actor=operator)
        log(f"first load: {result.seconds:.1f} s, {result.rate:,.0f} members/s, {result.timings}")
        counts = {t: execute(f"SELECT count(*) FROM {t}")[0][0] for t in first_load.TABLES}
        log(f"first load rows: {counts}")
        import_seconds = None
        if args.with_import:
            from django.core.files.uploadedfile import UploadedFile

            from members.io import services

            empty_pool()
            started = time.perf_counter()
            with open(path, "rb") as handle:
                job = services.create_import(actor=operator, mode="strict", upload=UploadedFile(
                    handle, name=path.name, size=path.stat().st_size))
            job = services.run_import(job_id=job.pk)
            import_seconds = time.perf_counter() - started
            assert job.status == "done", (job.message_code, job.errors[:3])
            log(f"import: {import_seconds:.1f} s, {n / import_seconds:,.0f} members/s, {job.timings}")
        server = execute("SHOW server_version")[0][0]
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    floor_rate, ours_rate = n / floor_seconds, result.rate
    print()
    print(f"First load of {n:,} members; PostgreSQL {server}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':44} {'seconds':>9} {'members/s':>11} {'/ floor':>8}")
    print(f"{'floor: bare-table COPY of the same rows':44} {floor_seconds:>9.1f} {floor_rate:>11,.0f} {1:>8.2f}")
    print(f"{'first load (members.io.first_load)':44} {result.seconds:>9.1f} {ours_rate:>11,.0f} "
          f"{ours_rate / floor_rate:>8.2f}")
    if import_seconds:
        print(f"{'normal import (strict)':44} {import_seconds:>9.1f} {n / import_seconds:>11,.0f} "
              f"{n / import_seconds / floor_rate:>8.2f}")
    print(f"target: first load at least 0.50 of the floor: {'met' if ours_rate >= floor_rate / 2 else 'not met'} "
          f"({ours_rate / floor_rate:.2f})")


if __name__ == "__main__":
    main()
