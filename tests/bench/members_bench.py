"""Members and segments at scale: import, segment counts and snapshots, beside raw PostgreSQL.

    .venv/bin/python tests/bench/members_bench.py --members 1000000      # default; ~5 minutes
    .venv/bin/python tests/bench/members_bench.py --members 10000000     # ~1 hour on 2 cores

A command, not part of CI. It creates its own database (bench_siyu by default, dropped and created
again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. generates N members and Zipf-skewed tags (a few tags on 30-55% of members, most of them rare)
   into files, server-side, so generation is not timed;
2. imports them twice in batches through COPY: "raw" with the segments triggers disabled (what
   PostgreSQL costs with the tables' own indexes), then "ours" with them (the bitmap index kept
   exact as rows arrive);
3. counts all / any / none expressions of rare, mid and popular tags: ours (bitmap index) beside
   plain SQL over members_membertag (btree (tag, member)) and over a tags int[] column with a GIN
   index; median and p95 of --runs runs;
4. snapshots a segment of about a million members and reads its ids back, beside a raw
   CREATE TABLE AS of the same ids.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
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

N_STORES = 50
N_STAFF = 500
POPULAR = (0.55, 0.40, 0.30)  # tags on a fixed share of members (e.g. "bought online", "has children")
TRIGGERS = {
    "members_member": ["member_segments_member_insert", "member_segments_member_delete",
                       "member_segments_member_update", "member_segments_member_truncate"],
    "members_membertag": ["member_segments_tag_insert", "member_segments_tag_delete",
                          "member_segments_tag_update", "member_segments_tag_truncate"],
}


def seed_reference_data(n_tags: int) -> tuple[list[int], list[int], list[int]]:
    from members.models import Tag, TagGroup
    from scrm.models import Region, Store, User

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"B{i:03d}", name=f"Store {i}", region=region, city="上海") for i in range(N_STORES)]
    )
    staff = User.objects.bulk_create(
        [User(username=f"staff{i}", role="store_staff", store=stores[i % N_STORES]) for i in range(N_STAFF)]
    )
    User.objects.create(username="bench_operator", role="operator")
    groups = TagGroup.objects.bulk_create([TagGroup(name=f"group {i}") for i in range(20)])
    tags = Tag.objects.bulk_create([Tag(group=groups[i % 20], name=f"tag {i}") for i in range(n_tags)])
    return [s.pk for s in stores], [u.pk for u in staff], [t.pk for t in tags]


MEMBER_COLUMNS = ("id, name, phone, gender, birthday, home_store_id, owner_id, source, stage, attributes, "
                  "merged_into_id, erased_at, created_at, updated_at")


def generate(workdir: Path, n: int, batch: int, stores, staff, tags) -> list[tuple[Path, Path, int, int]]:
    """Write the batches' COPY files (members, tags); returns (members file, tags file, members, tag rows)."""
    files = []
    execute("SELECT setseed(0.42)")
    for lo in range(1, n + 1, batch):
        hi = min(n, lo + batch - 1)
        mfile, tfile = workdir / f"members_{lo}.copy", workdir / f"tags_{lo}.copy"
        with connection.cursor() as cursor, open(mfile, "w") as fh:
            cursor.copy_expert(f"""
                COPY (SELECT g, '会员' || g, '+86138' || lpad((g % 100000000)::text, 8, '0'),
                    (ARRAY['u','f','m'])[1 + g % 3],
                    CASE WHEN g % 4 = 0 THEN date '1970-01-01' + (g * 7919 % 18000)::int END,
                    CASE WHEN g % 50 <> 0 THEN ('{_array(stores)}'::bigint[])[1 + (g * 31 % {len(stores)})] END,
                    CASE WHEN g % 10 < 7 THEN ('{_array(staff)}'::bigint[])[1 + (g * 17 % {len(staff)})] END,
                    (ARRAY['store_qr','order','ad','referral','event','import','other'])[1 + g % 7],
                    (ARRAY['aware','aware','appeal','ask','act','act','advocate'])[1 + (g * 13 % 7)],
                    CASE WHEN g % 3 = 0 THEN '{{"milk_brand": "A2"}}' ELSE '{{}}' END,
                    CASE WHEN g % 97 = 0 AND g > {lo} THEN g - 1 END,
                    CASE WHEN g % 89 = 0 THEN now() END,
                    now() - (g % 1500) * interval '1 day', now()
                FROM generate_series({lo}::bigint, {hi}::bigint) AS g) TO STDOUT""", fh)
        # Popular tags by a fixed share; then 1-5 draws of a Zipf(1)-like rank over the other tags:
        # rank = floor(exp(u * ln(T))) gives P(rank = r) ~ 1/r.
        popular = " UNION ALL ".join(
            f"SELECT {i + 1} AS r WHERE random() < {share} AND g > 0" for i, share in enumerate(POPULAR)
        )
        rest = len(tags) - len(POPULAR)
        with connection.cursor() as cursor, open(tfile, "w") as fh:
            cursor.copy_expert(f"""
                COPY (SELECT g, ('{_array(tags)}'::bigint[])[r], 'import', now()
                      FROM generate_series({lo}::bigint, {hi}::bigint) AS g,
                      LATERAL (SELECT DISTINCT r FROM ({popular} UNION ALL
                               SELECT {len(POPULAR)} + floor(exp(random() * ln({rest})))::int AS r
                               FROM generate_series(1, 1 + (random() * 4 + g * 0)::int)) AS d) AS x)
                TO STDOUT""", fh)
        with open(tfile) as fh:
            tag_rows = sum(1 for _ in fh)
        files.append((mfile, tfile, hi - lo + 1, tag_rows))
    return files


def _array(values) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def set_triggers(enabled: bool) -> None:
    for table, names in TRIGGERS.items():
        for name in names:
            execute(f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {name}")


def import_batches(files) -> tuple[float, float]:
    member_time = tag_time = 0.0
    for mfile, tfile, _n, _t in files:
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            with open(mfile) as fh:
                cursor.copy_expert(f"COPY members_member ({MEMBER_COLUMNS}) FROM STDIN", fh)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred FK checks are part of the cost
            member_time += time.perf_counter() - started
            started = time.perf_counter()
            with open(tfile) as fh:
                cursor.copy_expert("COPY members_membertag (member_id, tag_id, source, added_at) FROM STDIN", fh)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            tag_time += time.perf_counter() - started
    return member_time, tag_time


def import_bare(files) -> tuple[float, float]:
    """The same COPY into tables of the same columns without indexes, constraints or triggers: the
    floor, to show what the member tables' own indexes cost."""
    execute("CREATE TABLE bench_bare_member (LIKE members_member INCLUDING IDENTITY INCLUDING DEFAULTS)")
    execute("CREATE TABLE bench_bare_tag (LIKE members_membertag INCLUDING IDENTITY INCLUDING DEFAULTS)")
    member_time = tag_time = 0.0
    for mfile, tfile, _n, _t in files:
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            with open(mfile) as fh:
                cursor.copy_expert(f"COPY bench_bare_member ({MEMBER_COLUMNS}) FROM STDIN", fh)
            member_time += time.perf_counter() - started
            started = time.perf_counter()
            with open(tfile) as fh:
                cursor.copy_expert("COPY bench_bare_tag (member_id, tag_id, source, added_at) FROM STDIN", fh)
            tag_time += time.perf_counter() - started
    execute("DROP TABLE bench_bare_member, bench_bare_tag")
    return member_time, tag_time


def truncate_members() -> None:
    execute("TRUNCATE members_membertag, members_member CASCADE")
    execute("TRUNCATE member_segments_memberbitmap")


def timed(fn, runs: int) -> tuple[float, float, object]:
    """median and p95 in ms of `runs` runs after one warm-up, and the last result."""
    result = fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, result


def pick_tags(total: int) -> dict[str, list[int]]:
    """Two tags per popularity class, by their share of members."""
    rows = execute("SELECT tag_id, count(*) FROM members_membertag GROUP BY 1 ORDER BY 2 DESC")
    def near(share):
        ranked = sorted(rows, key=lambda r: abs(r[1] / total - share))
        return [ranked[0][0], ranked[1][0]], [ranked[0][1], ranked[1][1]]
    popular = ([rows[0][0], rows[1][0]], [rows[0][1], rows[1][1]])
    return {"popular": popular, "mid": near(0.05), "rare": near(0.0005)}


def build_gin_table() -> float:
    started = time.perf_counter()
    execute("DROP TABLE IF EXISTS bench_member_tags")
    execute("""CREATE TABLE bench_member_tags AS
               SELECT m.id AS member_id, coalesce(t.tag_ids, '{}') AS tag_ids
               FROM members_member m
               LEFT JOIN (SELECT member_id, array_agg(tag_id::int) AS tag_ids FROM members_membertag GROUP BY 1) t
                 ON t.member_id = m.id
               WHERE m.merged_into_id IS NULL AND m.erased_at IS NULL""")
    execute("CREATE INDEX bench_member_tags_gin ON bench_member_tags USING gin (tag_ids)")
    execute("VACUUM ANALYZE bench_member_tags")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--tags", type=int, default=2000, help="tag vocabulary size")
    parser.add_argument("--batch", type=int, default=250_000, help="members per COPY batch (one transaction each)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query")
    parser.add_argument("--database", default="bench_siyu")
    parser.add_argument("--no-gin", action="store_true", help="skip the int[] + GIN baseline")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--check", action="store_true", help="check the index against the tables above 2M members")
    parser.add_argument("--load-only", action="store_true",
                        help="load once (triggers off) and build the index afterwards: counts and snapshots only")
    args = parser.parse_args()

    from members.segments import index, queries, services
    from members.segments.models import Segment
    from scrm.models import User

    wall = time.perf_counter()
    original = connection.settings_dict["NAME"]
    log(f"creating database {args.database} and migrating")
    create_database(args.database)
    stores, staff, tags = seed_reference_data(args.tags)
    operator = User.objects.get(username="bench_operator")
    manager_store = stores[1]

    workdir = Path(tempfile.mkdtemp(prefix="siyu-bench-"))
    log(f"generating {args.members:,} members and their tags into {workdir}")
    started = time.perf_counter()
    files = generate(workdir, args.members, args.batch, stores, staff, tags)
    n_tags = sum(f[3] for f in files)
    per_member = n_tags / args.members
    log(f"generated {n_tags:,} tag rows ({per_member:.2f} per member) in {time.perf_counter() - started:.0f} s")

    results = []

    n = args.members
    if args.load_only:
        # One load with the triggers off; the index is then built by rebuild_index below. For counts
        # and snapshots at sizes where three timed imports would take hours.
        log("load, raw COPY (segments triggers disabled); the index is built afterwards")
        set_triggers(False)
        raw_m, raw_t = import_batches(files)
        set_triggers(True)
        results.append(("import members (members/s)", None, n / raw_m, None))
        results.append(("import tags (tag rows/s)", None, n_tags / raw_t, None))
        results.append(("import members+tags (members/s)", None, n / (raw_m + raw_t), None))
    else:
        log("import, bare COPY (same columns, no index, no constraint)")
        bare_m, bare_t = import_bare(files)
        log("import, raw COPY (segments triggers disabled)")
        set_triggers(False)
        raw_m, raw_t = import_batches(files)
        set_triggers(True)
        truncate_members()
        log("import, ours (COPY with the bitmap index kept by triggers)")
        our_m, our_t = import_batches(files)
        results.append(("import members (members/s)", n / our_m, n / raw_m, n / bare_m))
        results.append(("import tags (tag rows/s)", n_tags / our_t, n_tags / raw_t, n_tags / bare_t))
        results.append(("import members+tags (members/s)", n / (our_m + our_t), n / (raw_m + raw_t),
                        n / (bare_m + bare_t)))
    for f in files:
        f[0].unlink()
        f[1].unlink()
    workdir.rmdir()

    log("VACUUM ANALYZE")
    started = time.perf_counter()
    execute("VACUUM ANALYZE members_member")
    execute("VACUUM ANALYZE members_membertag")
    execute("VACUUM ANALYZE member_segments_memberbitmap")
    log(f"vacuum analyze: {time.perf_counter() - started:.0f} s")
    if (n <= 2_000_000 or args.check) and not args.load_only:  # a full recomputation: minutes at 10M
        started = time.perf_counter()
        assert not index.differences(), "the bitmap index differs from the tables after import"
        log(f"index checked exact against the tables in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    index.rebuild()
    rebuild_s = time.perf_counter() - started
    log(f"rebuild_index: {rebuild_s:.1f} s")
    execute("VACUUM ANALYZE member_segments_memberbitmap")

    gin = not args.no_gin
    if gin:
        log("building the int[] + GIN baseline")
        log(f"GIN baseline built in {build_gin_table():.0f} s")

    live = queries.count({"all": []}, operator)
    picked = pick_tags(live)
    for label, (ids, counts) in picked.items():
        log(f"{label} tags {ids}: {counts[0]:,} and {counts[1]:,} members ({100 * counts[0] / live:.2f}%)")

    counts = []
    for label, (ids, _counts) in picked.items():
        for op in ("all", "any", "none"):
            definition = {"all": [{"tags": {op: ids}}]}
            ours = timed(lambda d=definition: queries.count(d, operator), args.runs)
            tree = queries.validate_definition(definition)
            where, params = queries.compiler.rows_sql(tree, None, "m")
            sql = f"SELECT count(*) FROM members_member m WHERE {where}"
            btree = timed(lambda s=sql, p=params: execute(s, p)[0][0], args.runs)
            if gin:
                gin_sql = {"all": "tag_ids @> %s::int[]", "any": "tag_ids && %s::int[]",
                           "none": "NOT (tag_ids && %s::int[])"}[op]
                gin_r = timed(lambda s=gin_sql, i=ids: execute(
                    f"SELECT count(*) FROM bench_member_tags WHERE {s}", [i])[0][0], args.runs)
            else:
                gin_r = (None, None, None)
            assert ours[2] == btree[2], (definition, ours[2], btree[2])
            if gin:
                assert ours[2] == gin_r[2], (definition, ours[2], gin_r[2])
            counts.append((f"{op} of 2 {label} tags", ours, btree, gin_r))
            log(f"count {op} {label}: {ours[2]:,} members; ours {ours[0]:.1f} ms, btree {btree[0]:.0f} ms, "
                f"gin {gin_r[0] if gin_r[0] is None else round(gin_r[0])} ms")
    # A mixed expression and a store manager's view (cut to one store).
    popular, mid, rare = picked["popular"][0], picked["mid"][0], picked["rare"][0]
    mixed = {"all": [{"tags": {"any": popular}}, {"tags": {"none": rare}},
                     {"any": [{"tags": {"all": mid}}, {"field": "stage", "op": "in", "value": ["act", "advocate"]}]}]}
    tree = queries.validate_definition(mixed)
    where, params = queries.compiler.rows_sql(tree, None, "m")
    ours = timed(lambda: queries.count(mixed, operator), args.runs)
    btree = timed(lambda: execute(f"SELECT count(*) FROM members_member m WHERE {where}", params)[0][0], args.runs)
    assert ours[2] == btree[2]
    counts.append(("mixed (popular, none rare, mid or stage)", ours, btree, (None, None, None)))
    where, params = queries.compiler.rows_sql(tree, manager_store, "m")
    store_def = {"all": [{"tags": {"any": popular}}, {"field": "home_store", "op": "in", "value": [manager_store]}]}
    ours = timed(lambda: queries.count(store_def, operator), args.runs)
    tree = queries.validate_definition(store_def)
    where, params = queries.compiler.rows_sql(tree, None, "m")
    btree = timed(lambda: execute(f"SELECT count(*) FROM members_member m WHERE {where}", params)[0][0], args.runs)
    assert ours[2] == btree[2]
    counts.append(("any popular in one store", ours, btree, (None, None, None)))

    # Snapshot of about a million members: the tag expression closest to 1M (everyone below 1M).
    target = min(1_000_000, live)
    candidates = execute("SELECT tag_id, count(*) FROM members_membertag GROUP BY 1")
    snap_tag = min(candidates, key=lambda r: abs(r[1] - target))[0]
    snap_def = {"all": []} if live <= 1_000_000 else {"tags": {"any": [snap_tag]}}
    segment = Segment.objects.create(name="bench", definition=snap_def)
    snap_times, read_times, raw_times = [], [], []
    for _ in range(3):
        started = time.perf_counter()
        snapshot = services.snapshot_segment(segment=segment, actor=operator)
        snap_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        ids = queries.snapshot_member_ids(snapshot)
        read_times.append(time.perf_counter() - started)
        assert len(ids) == snapshot.member_count
        tree = queries.validate_definition(snap_def)
        where, params = queries.compiler.rows_sql(tree, None, "m")
        started = time.perf_counter()
        with transaction.atomic():
            execute("DROP TABLE IF EXISTS bench_snapshot")
            execute(f"CREATE TABLE bench_snapshot AS SELECT m.id FROM members_member m WHERE {where}", params)
        raw_times.append(time.perf_counter() - started)
        raw_count = execute("SELECT count(*) FROM bench_snapshot")[0][0]
        assert raw_count == snapshot.member_count, (raw_count, snapshot.member_count)
    snap_n = snapshot.member_count

    total_s = time.perf_counter() - wall
    print()
    print(f"Siyu members bench: {args.members:,} members, {n_tags:,} tag rows, {args.tags} tags, "
          f"batches of {args.batch:,}; PostgreSQL {execute('SHOW server_version')[0][0]}, "
          f"{os.cpu_count()} cores; total {total_s / 60:.1f} min")
    print()
    print(f"{'import':<34} {'ours':>14} {'raw COPY':>14} {'ours/raw':>9} {'bare table':>14}")
    for label, ours_v, raw_v, bare_v in results:
        if ours_v is None:  # --load-only
            print(f"{label:<34} {'-':>14} {raw_v:>14,.0f} {'-':>9} {'-':>14}")
        else:
            print(f"{label:<34} {ours_v:>14,.0f} {raw_v:>14,.0f} {ours_v / raw_v:>9.2f} {bare_v:>14,.0f}")
    print(f"{'rebuild_index (full, set-based)':<34} {rebuild_s:>13.1f}s")
    print()
    print(f"{'count, ms (median / p95)':<42} {'members':>10} {'ours bitmap':>15} {'SQL btree':>17} "
          f"{'SQL GIN int[]':>17}")
    for label, ours_r, btree_r, gin_r in counts:
        gin_s = f"{gin_r[0]:.0f} / {gin_r[1]:.0f}" if gin_r[0] is not None else "-"
        print(f"{label:<42} {ours_r[2]:>10,} {ours_r[0]:>7.1f} / {ours_r[1]:>5.1f} "
              f"{btree_r[0]:>8.0f} / {btree_r[1]:>6.0f} {gin_s:>17}")
    print()
    print(f"snapshot of {snap_n:,} members: ours {statistics.median(snap_times):.2f} s (write bitmap chunks), "
          f"read ids back {statistics.median(read_times):.2f} s; raw CREATE TABLE AS of the ids "
          f"{statistics.median(raw_times):.2f} s (median of 3)")

    connection.close()
    connection.settings_dict["NAME"] = original
    if not args.keep:
        execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
