"""The KOC programme at scale: tier recalculation for every creator beside the one aggregate that is
its floor, in the same run, and the queries the programme's pages run, each timed.

    .venv/bin/python tests/bench/koc_bench.py --snapshots 0              # 50k creators, 4M posts
    .venv/bin/python tests/bench/koc_bench.py                            # + 30 snapshots a post (120M)

A command, not part of CI. It creates its own database (bench_siyu_koc by default, dropped and
created again) on the server DATABASE_URL points at, migrates it, then:

1. generates 50 stores, N members and N creators (1 % left, 1 % paused), and about N x
   --posts-per-creator posts spread over the last year with generate_series, into tables stripped
   of their secondary indexes and constraints (rebuilt afterwards; set-up, not timed). Posts per
   creator are Zipf-like (a Lomax draw, scaled so the total is N x posts-per-creator): most
   creators post a little, a few post thousands of times; interactions are log-normal scaled by
   a per-creator reach, 3 % of posts viral;
2. a four-level ladder (junior, intermediate, senior, star) with benefits on three levels;
3. times the floor (CREATE TEMP TABLE AS SELECT creator_id, count(*), count(*) FILTER (WHERE
   viral), sum(interactions) FROM koc_post WHERE published_at in the window GROUP BY creator_id),
   then tiers.recalculate() for everyone: the first run (everyone ranked, history and grants
   written), a run with nothing changed, and a period-end run 30 days later (the window slid:
   demotions past the grace margin, kept-by-grace counted), each beside a floor;
4. times the pages' queries (median and worst of --repeat runs): the creators list's first page
   filtered by level (brand-wide and one store's), the posts list's first page by interactions,
   a creator's posts, the pyramid counts, a creator's level history;
5. times the overview's figures (koc.queries), brand-wide and for one store's manager: each counted
   live from the posts (the old way) beside the same read from the summary, the summary's refresh
   (koc.services.figures.refresh) and the whole overview() per window; prints the plan of the top
   posts by media value over 365 days (an index scan down koc_post_top_value);
6. with --snapshots S > 0, loads S metric snapshots per post (30: 120M rows, the unique
   (post, taken_at) index built after the load; timed and reported) and times a post's snapshots.
   --snapshots 0 skips it: nothing the recalculation or the lists read comes from snapshots (a post
   carries its latest metrics), so only the snapshot history query and the database size differ.
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

embedded.prepare()
django.setup()

from benchdb import create_database, execute, log  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

N_STORES = 50
LADDER = [  # rank, name, min_posts, min_viral, min_interactions (over the 90-day window)
    (1, "初级 Junior", 1, 0, 0),
    (2, "中级 Intermediate", 6, 0, 3000),
    (3, "高级 Senior", 15, 2, 20000),
    (4, "明星 Star", 40, 6, 100000),
]
MEMBER_TRIGGERS = [
    "member_segments_member_insert",
    "member_segments_member_delete",
    "member_segments_member_update",
    "member_segments_member_truncate",
]


def log_step(label: str, started: float) -> float:
    seconds = time.perf_counter() - started
    log(f"{label} in {seconds:.1f} s")
    return seconds


def stripped(table: str):
    """Drop `table`'s secondary indexes and constraints (the primary key stays); return the
    statements that put them back (as tests/bench/tiers_bench.py does)."""
    constraints = execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype IN ('u', 'c', 'f', 'x') ORDER BY contype DESC, conname", [table])
    indexes = execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.conrelid = x.indrelid)",
        [table])
    for name, _definition in constraints:
        execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints]


def restore(table: str, statements: list[str]) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for statement in statements:
            cursor.execute(statement)
    return log_step(f"{table}: {len(statements)} indexes and constraints rebuilt", started)


MEMBERS_SQL = """
    INSERT INTO members_member (id, name, phone, gender, home_store_id, source, stage, attributes, created_at,
                                updated_at)
    SELECT g, '达人' || g, '', 'u', (%(stores)s::bigint[])[1 + g %% {stores}], 'other', 'aware', '{{}}',
           %(base)s - interval '1 day' * (730 * g / %(n)s), %(base)s
    FROM generate_series(1, %(n)s) AS g
"""

CREATORS_SQL = """
    INSERT INTO koc_creator (id, member_id, status, bio, window_posts, window_viral, window_interactions,
                             joined_at, updated_at)
    SELECT g, g, CASE WHEN g %% 100 = 0 THEN 'left' WHEN g %% 100 = 1 THEN 'paused' ELSE 'active' END, '',
           0, 0, 0, %(base)s - interval '1 day' * (365 * g / %(n)s), %(base)s
    FROM generate_series(1, %(n)s) AS g
"""

# Posts per creator: a Lomax (Pareto II, shape 1.5) draw capped at 150 times the smallest, scaled so
# the total is n x per_creator (the busiest account a few thousand posts a year); a per-creator
# reach scales interactions (log-normal, median ~120 weighted).
SHAPE_SQL = """
    CREATE UNLOGGED TABLE bench_creator_shape AS
    SELECT c, raw, exp(0.9 * bench_normal()) AS reach
    FROM (SELECT c, least(150, power(1 - random(), -1 / 1.5) - 1 + 0.05) AS raw
          FROM generate_series(1, %(n)s) AS c) AS x
"""

POSTS_SQL = """
    INSERT INTO koc_post (id, creator_id, platform, url, url_key, title, published_at, source, views, likes, saves,
                          comments, shares, followers_gained, interactions, interaction_rate, viral, media_value,
                          measured_at, created_at)
    SELECT id, c, platform, 'https://' || platform || '.example/p/' || id, platform || '.example/p/' || id, '',
           published, 'creator', views, likes, saves, comments, shares, (likes / 50)::bigint,
           likes + 2 * saves + 3 * comments + 4 * shares,
           round(least(9999999, (likes + 2 * saves + 3 * comments + 4 * shares) * 100.0 / greatest(views, 1)), 2),
           viral, round(views / 1000.0 * 30 + (likes + 2 * saves + 3 * comments + 4 * shares) * 0.5, 2),
           published + interval '3 days', published
    FROM (
        SELECT id, c, platform, published, views, (i * 0.6)::bigint AS likes, (i * 0.15)::bigint AS saves,
               (i * 0.05)::bigint AS comments, (i * 0.03)::bigint AS shares, r < 0.03 AS viral
        FROM (
            SELECT row_number() OVER () + %(offset)s AS id, s.c,
                   (ARRAY['xiaohongshu','douyin','channels','moments','weibo','bilibili'])[1 + (s.c + j) %% 6]
                       AS platform,
                   %(base)s - random() * interval '365 days' AS published, random() AS r,
                   greatest(1, exp(4.8 + bench_normal()) * s.reach) AS i_raw, j
            FROM bench_creator_shape s
            CROSS JOIN LATERAL generate_series(1, s.k) AS j
            WHERE s.c BETWEEN %(lo)s AND %(hi)s
        ) AS a
        CROSS JOIN LATERAL (SELECT CASE WHEN a.r < 0.03 THEN a.i_raw * 20 ELSE a.i_raw END AS i) AS b
        CROSS JOIN LATERAL (SELECT (b.i * (8 + 10 * random()))::bigint AS views) AS v
    ) AS p
"""

SNAPSHOTS_SQL = """
    INSERT INTO koc_metricsnapshot (post_id, taken_at, views, likes, saves, comments, shares, followers_gained,
                                    source)
    SELECT p.id, p.published_at + interval '1 day' * s, (p.views * s / %(k)s)::bigint,
           (p.likes * s / %(k)s)::bigint, (p.saves * s / %(k)s)::bigint, (p.comments * s / %(k)s)::bigint,
           (p.shares * s / %(k)s)::bigint, (p.followers_gained * s / %(k)s)::bigint, 'api'
    FROM koc_post p CROSS JOIN generate_series(1, %(k)s) AS s
    WHERE p.id BETWEEN %(lo)s AND %(hi)s
"""


def generate(n: int, per_creator: float, base: datetime.datetime, batch: int) -> int:
    from koc.models import Level, Programme
    from scrm.models import Region, Store

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"K{i:03d}", name=f"Store {i}", region=region, city="广州") for i in range(N_STORES)])
    Programme.objects.create(pk=1, window_days=90, period_months=3, grace_percent=20)
    Level.objects.bulk_create([Level(rank=r, name=name, min_posts=p, min_viral=v, min_interactions=i)
                               for r, name, p, v, i in LADDER])
    for trigger in MEMBER_TRIGGERS:
        execute(f"ALTER TABLE members_member DISABLE TRIGGER {trigger}")
    # A standard normal draw (Box-Muller): PostgreSQL 15 has no random_normal().
    execute("CREATE FUNCTION bench_normal() RETURNS float8 VOLATILE LANGUAGE sql AS "
            "'SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())'")
    execute("SELECT setseed(0.42)")
    params = {"stores": [s.pk for s in stores], "base": base, "n": n}
    members_restore = stripped("members_member")
    creators_restore = stripped("koc_creator")
    posts_restore = stripped("koc_post")
    started = time.perf_counter()
    with transaction.atomic():
        execute(MEMBERS_SQL.format(stores=N_STORES), params)
        execute(CREATORS_SQL, params)
    log_step(f"members and creators: {n:,} generated", started)
    execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), %s)", [n])
    execute("SELECT setval(pg_get_serial_sequence('koc_creator', 'id'), %s)", [n])
    started = time.perf_counter()
    execute(SHAPE_SQL, params)
    target = int(n * per_creator)
    total_raw = execute("SELECT sum(raw) FROM bench_creator_shape")[0][0]
    execute("ALTER TABLE bench_creator_shape ADD COLUMN k int")
    execute("UPDATE bench_creator_shape SET k = greatest(0, round(raw * %s / %s))::int", [target, total_raw])
    offset = 0
    for lo in range(1, n + 1, batch):
        hi = min(n, lo + batch - 1)
        with transaction.atomic():
            execute(POSTS_SQL, {**params, "lo": lo, "hi": hi, "offset": offset})
        offset = execute("SELECT coalesce(max(id), 0) FROM koc_post")[0][0]
    total = execute("SELECT count(*) FROM koc_post")[0][0]
    execute("SELECT setval(pg_get_serial_sequence('koc_post', 'id'), %s)", [max(total, 1)])
    log_step(f"posts: {total:,} generated", started)
    restore("members_member", members_restore)
    restore("koc_creator", creators_restore)
    restore("koc_post", posts_restore)
    started = time.perf_counter()
    execute("VACUUM ANALYZE")
    log_step("vacuum analyze", started)
    return total


def benefits() -> None:
    from koc.models import Benefit, Level

    levels = {lv.rank: lv for lv in Level.objects.all()}
    Benefit.objects.bulk_create([
        Benefit(level=levels[1], kind="sample", name="新品试用 Samples"),
        Benefit(level=levels[3], kind="early_access", name="提前一周购买 A week early", early_days=7),
        Benefit(level=levels[4], kind="mentor", name="带教老师 Mentor"),
    ])


def floor_seconds(now: datetime.datetime, window_days: int = 90) -> float:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '128MB'")
        started = time.perf_counter()
        cursor.execute(
            "CREATE TEMP TABLE koc_floor ON COMMIT DROP AS SELECT creator_id, count(*) AS posts, "
            "count(*) FILTER (WHERE viral) AS viral, sum(interactions) AS interactions FROM koc_post "
            "WHERE published_at >= %s AND published_at <= %s GROUP BY creator_id",
            [now - datetime.timedelta(days=window_days), now])
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM koc_floor")
        rows = cursor.fetchone()[0]
    log(f"floor: {rows:,} creators' counts in {seconds:.2f} s")
    return seconds


def ours(label: str, **kwargs):
    from koc.models import LevelChange
    from koc.services import tiers

    changes = LevelChange.objects.count()
    started = time.perf_counter()
    run = tiers.recalculate(**kwargs)
    seconds = time.perf_counter() - started
    written = LevelChange.objects.count() - changes
    log(f"ours, {label}: {seconds:.2f} s, {run.creators:,} counted, {run.promoted:,} up, {run.demoted:,} down, "
        f"{run.kept_by_grace:,} kept by grace, {run.grants:,} granted, {run.revokes:,} revoked, "
        f"{written:,} history rows")
    return seconds, run, written


def timed(label: str, fn, repeat: int) -> tuple[str, float, float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = len(fn())
        times.append(time.perf_counter() - started)
    log(f"{label}: median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms ({rows} rows)")
    return label, statistics.median(times), max(times), rows


def page_queries(repeat: int, *, snapshots: bool) -> list:
    from koc.models import Creator, Level, LevelChange, MetricSnapshot, Post
    from scrm.models import Store, User

    senior = Level.objects.get(rank=3)
    store = Store.objects.order_by("id").first()
    manager = User.objects.get_or_create(username="bench-manager",
                                         defaults={"role": "store_manager", "store": store})[0]
    busiest = Creator.objects.order_by("-window_posts").values_list("pk", flat=True).first()
    a_post = Post.objects.filter(creator_id=busiest).order_by("-published_at").values_list("pk", flat=True).first()
    a_changed = LevelChange.objects.order_by("-id").values_list("creator_id", flat=True).first()
    creators = Creator.objects.select_related("member", "level").order_by("-joined_at", "-id")
    posts = Post.objects.select_related("creator__member")
    results = [
        timed("creators list, first page, level = senior (operator)",
              lambda: list(creators.filter(level=senior, status="active")[:50]), repeat),
        timed("creators list, first page, level = senior (one store's manager)",
              lambda: list(creators.visible_to(manager).filter(level=senior, status="active")[:50]), repeat),
        timed("creators list, first page, no filter", lambda: list(creators[:50]), repeat),
        timed("posts list, first page by interactions", lambda: list(posts.order_by("-interactions", "-id")[:50]),
              repeat),
        timed("posts list, first page by interactions (one store's manager)",
              lambda: list(posts.visible_to(manager).order_by("-interactions", "-id")[:50]), repeat),
        timed("a creator's posts (the busiest), first page",
              lambda: list(posts.filter(creator_id=busiest).order_by("-published_at", "-id")[:50]), repeat),
        timed("the pyramid counts (active creators per level)",
              lambda: list(Creator.objects.filter(status="active").values("level_id").annotate(
                  n=Count("id")).order_by("level_id")), repeat),
        timed("a creator's level history",
              lambda: list(LevelChange.objects.filter(creator_id=a_changed).order_by("-at", "-id")[:50]), repeat),
    ]
    if snapshots:
        results.append(timed("a post's snapshots",
                             lambda: list(MetricSnapshot.objects.filter(post_id=a_post).order_by("taken_at")), repeat))
    return results


def overview_figures(repeat: int, live_repeat: int) -> tuple[list, tuple[float, float], dict, list[str]]:
    from koc import queries
    from koc.services import figures
    from scrm.models import Store, User

    operator = User.objects.get_or_create(username="bench-operator", defaults={"role": "operator"})[0]
    store = Store.objects.order_by("id").first()
    manager = User.objects.get_or_create(username="bench-manager",
                                         defaults={"role": "store_manager", "store": store})[0]
    started = time.perf_counter()
    written = figures.refresh()
    refresh = log_step(f"summary refreshed: {written['days']:,} day rows, {written['creator_windows']:,} "
                       "creator-window rows", started)
    execute("ANALYZE koc_postday")
    execute("ANALYZE koc_creatorwindow")
    started = time.perf_counter()
    figures.refresh()
    refresh = (refresh, log_step("summary refreshed again", started))
    plan = [row[0] for row in execute(
        "EXPLAIN SELECT id FROM koc_post WHERE published_at >= now() - interval '365 days' "
        "ORDER BY media_value DESC, id DESC LIMIT 10")]
    log("top posts by media value, 365 days: " + " / ".join(line.strip() for line in plan))
    results = []
    for who, user in (("operator", operator), ("one store's manager", manager)):
        for label, fn in (
            ("posts per month", lambda u, live: queries.posts_by_month(u, live=live)),
            ("media value per platform, 90 days", lambda u, live: queries.media_value(u, days=90, live=live)["rows"]),
            ("top creators, 90 days", lambda u, live: queries.top_creators(u, days=90, live=live)),
            ("top creators by media value, 365 days",
             lambda u, live: queries.top_creators(u, days=365, by="media_value", live=live)),
            ("topic leaderboard", lambda u, live: queries.topic_leaderboard(u, live=live)),
        ):
            old = timed(f"{label} ({who}), live", lambda fn=fn, user=user: fn(user, True), live_repeat)
            new = timed(f"{label} ({who}), summary", lambda fn=fn, user=user: fn(user, False), repeat)
            results.append((f"{label} ({who})", old, new))
        for label, days, by in (("top posts, 30 days", 30, "interactions"),
                                ("top posts by media value, 365 days", 365, "media_value")):
            new = timed(f"{label} ({who})", lambda user=user, days=days, by=by: queries.top_posts(
                user, days=days, by=by), repeat)
            results.append((f"{label} ({who})", None, new))
        for days in queries.WINDOWS:
            new = timed(f"the whole overview, {days} days ({who})", lambda user=user, days=days: list(
                queries.overview(user, days=days)), repeat)
            results.append((f"the whole overview, {days} days ({who})", None, new))
    return results, refresh, written, plan


def load_snapshots(per_post: int, batch: int) -> tuple[int, float, float]:
    restore_sql = stripped("koc_metricsnapshot")
    started = time.perf_counter()
    top = execute("SELECT max(id) FROM koc_post")[0][0]
    for lo in range(1, top + 1, batch):
        with transaction.atomic():
            execute(SNAPSHOTS_SQL, {"k": per_post, "lo": lo, "hi": min(top, lo + batch - 1)})
        if (lo // batch) % 10 == 0:
            log(f"snapshots: posts up to {min(top, lo + batch - 1):,} of {top:,}")
    load = log_step("snapshots loaded", started)
    rows = execute("SELECT count(*) FROM koc_metricsnapshot")[0][0]
    index = restore("koc_metricsnapshot", restore_sql)
    execute("ANALYZE koc_metricsnapshot")
    return rows, load, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creators", type=int, default=50_000)
    parser.add_argument("--posts-per-creator", type=float, default=80)
    parser.add_argument("--snapshots", type=int, default=30, help="metric snapshots per post (0: none)")
    parser.add_argument("--batch", type=int, default=10_000, help="creators per post-generation transaction")
    parser.add_argument("--snapshot-batch", type=int, default=200_000, help="posts per snapshot transaction")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each page query")
    parser.add_argument("--live-repeat", type=int, default=3, help="runs of each overview figure counted live")
    parser.add_argument("--database", default="bench_siyu_koc")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    original = connection.settings_dict["NAME"]
    create_database(args.database)
    try:
        base = timezone.now()
        total = generate(args.creators, args.posts_per_creator, base, args.batch)
        benefits()
        shape = execute(
            "SELECT count(*) FILTER (WHERE k = 0), count(*) FILTER (WHERE k BETWEEN 1 AND 2), "
            "count(*) FILTER (WHERE k >= 200), max(k), percentile_cont(0.5) WITHIN GROUP (ORDER BY k) "
            "FROM bench_creator_shape")[0]
        log(f"posts per creator: {shape[0]:,} with none, {shape[1]:,} with 1-2, {shape[2]:,} with 200 or more, "
            f"median {shape[4]:.0f}, at most {shape[3]:,}")
        execute("DROP TABLE bench_creator_shape")
        floors, runs = [], []
        floors.append(floor_seconds(base))
        runs.append(("first run (everyone ranked)", *ours("first run", now=base, period_end=False)))
        floors.append(floor_seconds(base))
        runs.append(("nothing changed", *ours("nothing changed", now=base, period_end=False)))
        later = base + datetime.timedelta(days=30)
        floors.append(floor_seconds(later))
        runs.append(("period end, 30 days on", *ours("period end", now=later, period_end=True)))
        floors.append(floor_seconds(later))
        runs.append(("nothing changed after it", *ours("nothing changed after", now=later, period_end=True)))
        pages = page_queries(args.repeat, snapshots=False)
        overview, refresh, summary_rows, plan = overview_figures(args.repeat, args.live_repeat)
        snapshot_rows = 0
        if args.snapshots:
            snapshot_rows, load, index = load_snapshots(args.snapshots, args.snapshot_batch)
            log(f"snapshots: {snapshot_rows:,} rows loaded in {load:.0f} s, unique index built in {index:.0f} s")
            pages += page_queries(args.repeat, snapshots=True)[-1:]
        levels = execute("SELECT l.name, count(c.id) FROM koc_level l LEFT JOIN koc_creator c ON c.level_id = l.id "
                         "AND c.status = 'active' GROUP BY l.rank, l.name ORDER BY l.rank")
        size = execute("SELECT pg_size_pretty(pg_database_size(current_database()))")[0][0]
        print()
        print(f"{args.creators:,} creators, {total:,} posts, {snapshot_rows:,} snapshots, window 90 days, "
              f"database {size}, {time.strftime('%Y-%m-%d')}")
        print("| tier recalculation | floor (s) | ours (s) | / floor | up | down | kept by grace | granted | "
              "revoked | history rows |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for floor, (label, seconds, run, written) in zip(floors, runs, strict=True):
            print(f"| {label} | {floor:.2f} | {seconds:.2f} | {seconds / floor:.1f} | {run.promoted:,} | "
                  f"{run.demoted:,} | {run.kept_by_grace:,} | {run.grants:,} | {run.revokes:,} | {written:,} |")
        print()
        print(f"| page query ({args.repeat} runs) | median (ms) | worst (ms) | rows |")
        print("| --- | ---: | ---: | ---: |")
        for label, median, worst, rows in pages:
            print(f"| {label} | {median * 1000:.1f} | {worst * 1000:.1f} | {rows} |")
        print()
        day_rows, window_rows = summary_rows["days"], summary_rows["creator_windows"]
        print(f"summary refresh: {refresh[0]:.2f} s, again {refresh[1]:.2f} s ({day_rows:,} day rows, "
              f"{window_rows:,} creator-window rows)")
        print("top posts by media value, 365 days: " + " / ".join(line.strip() for line in plan))
        print()
        print("| overview figure | live, median (ms) | live, worst (ms) | summary, median (ms) | summary, worst (ms) |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, old, new in overview:
            live = f"{old[1] * 1000:.1f} | {old[2] * 1000:.1f}" if old else "— | —"
            print(f"| {label} | {live} | {new[1] * 1000:.1f} | {new[2] * 1000:.1f} |")
        print()
        print("levels (active creators): " + ", ".join(f"{name} {n:,}" for name, n in levels))
    finally:
        if not args.keep:
            connection.close()
            connection.settings_dict["NAME"] = original
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
