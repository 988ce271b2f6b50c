"""Journeys at scale: a daily birthday trigger over a large pool, and a thousand live journeys ticking.

    .venv/bin/python tests/bench/journey_bench.py                       # 10M members
    .venv/bin/python tests/bench/journey_bench.py --members 1000000     # a quicker look

A command, not part of CI. It creates its own database (bench_siyu_journeys by default, dropped and
created again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. generates 50 stores and N members with generate_series (birthdays spread over the year, so about
   N/365 are born on any day; 1 % merged, 1 % erased), with the segments' triggers off (not timed);
2. birthday entry: a live journey's day of entries (journeys.services.entry.enter: the members born
   today, live, with a home store, as runs at the first step with a journey.entered event each),
   timed --repeat times (each rolled back), beside the floor in the same run: the bare
   INSERT ... SELECT of the same rows into a table of the runs' columns with no index, constraint
   or event;
3. a thousand live journeys ticking: each a send step (outbox), a task step and a wait, with
   --runs members due at the first step; times the tick until nothing is due (deliveries through the
   campaigns' fan-out, tasks through create_tasks, history and moves), beside its floor: bare
   INSERTs of the same deliveries, tasks and history rows and one UPDATE of the runs; then times a
   pass of the thousand journeys' entries over --events new tag events.
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
from django.utils import timezone  # noqa: E402

N_STORES = 50
MEMBER_TRIGGERS = ["member_segments_member_insert", "member_segments_member_delete",
                   "member_segments_member_update"]

MEMBERS_SQL = """
    INSERT INTO members_member (id, name, phone, gender, home_store_id, source, stage, attributes, created_at,
                                updated_at, merged_into_id, erased_at, birthday)
    SELECT g, 'M' || g, '+86139' || lpad(g::text, 8, '0'), 'u', (%(stores)s::bigint[])[1 + g %% 50], 'other',
           'aware', '{}', %(base)s, %(base)s, CASE WHEN g %% 100 = 99 THEN g - 1 END,
           CASE WHEN g %% 100 = 98 THEN %(base)s END, date '1970-01-01' + (g %% 365) + 365 * (g %% 40)
    FROM generate_series(%(lo)s, %(hi)s) AS g
"""

FLOOR_SQL = """
    INSERT INTO bench_bare_run (journey_id, version, member_id, store_id, period_key, step_id, phase, next_due_at,
                                state, reason, trigger_at, entered_at)
    SELECT %s, 1, m.id, m.home_store_id, '2026', %s, 0, now(), 'active', '', now(), now()
    FROM members_member m
    WHERE m.birthday IS NOT NULL AND extract(month FROM m.birthday) = %s AND extract(day FROM m.birthday) = %s
      AND m.merged_into_id IS NULL AND m.erased_at IS NULL AND m.home_store_id IS NOT NULL
"""


def step(label: str, started: float) -> float:
    seconds = time.perf_counter() - started
    log(f"{label}: {seconds:.1f} s")
    return seconds


def generate(n: int, base: datetime.datetime, batch: int) -> list[int]:
    from scrm.models import Region, Store

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"J{i:03d}", name=f"Store {i}", region=region, city="上海") for i in range(N_STORES)])
    params = {"stores": [s.pk for s in stores], "base": base}
    for trigger in MEMBER_TRIGGERS:
        execute(f"ALTER TABLE members_member DISABLE TRIGGER {trigger}")
    started = time.perf_counter()
    for lo in range(1, n + 1, batch):
        with transaction.atomic():
            execute(MEMBERS_SQL, {**params, "lo": lo, "hi": min(n, lo + batch - 1)})
    execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), %s)", [n])
    step(f"members: {n:,}", started)
    started = time.perf_counter()
    execute("VACUUM ANALYZE members_member")
    step("vacuum analyze", started)
    return [s.pk for s in stores]


def rowcount(sql: str, params) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


class Rollback(Exception):
    pass


def timed_rolled_back(fn, repeat: int) -> tuple[list[float], int]:
    runs, rows = [], 0
    for _ in range(repeat):
        try:
            with transaction.atomic():
                started = time.perf_counter()
                rows = fn()
                runs.append(time.perf_counter() - started)
                raise Rollback
        except Rollback:
            pass
    return runs, rows


def birthdays(actor, today: datetime.date, repeat: int) -> list[tuple]:
    from journeys.services import entry
    from journeys.services import journeys as svc

    journey = svc.create_journey(actor=actor, data=svc.JourneyInput(
        name="生日关怀", trigger="birthday", entry_rule="per_period", entry_period="year",
        steps=[svc.StepInput("wait", {"mode": "duration", "days": 1})]))
    journey = svc.activate(actor=actor, journey=journey)
    step_id = entry.first_step(journey)
    execute("CREATE TABLE bench_bare_run (LIKE journeys_journeyrun INCLUDING DEFAULTS INCLUDING IDENTITY)")
    now = timezone.now()
    ours, entered = timed_rolled_back(
        lambda: entry.enter(journey, *entry.birthday_candidates(today), now=now), repeat)
    floor, floor_rows = timed_rolled_back(lambda: rowcount(FLOOR_SQL, [journey.pk, step_id, today.month, today.day]),
                                          repeat)
    return [("birthday entry, ours (runs + journey.entered events)", ours, entered),
            ("birthday entry, floor (bare INSERT ... SELECT)", floor, floor_rows)]


def make_journeys(journeys: int, runs_each: int) -> tuple[list, int, int]:
    """A thousand live journeys (send, task, wait) with `runs_each` runs due at the first step each:
    their tags, the members they hold and the runs due."""
    from journeys.models import Journey, JourneyStep
    from members.models import Tag, TagGroup

    group = TagGroup.objects.create(name="bench")
    tags = Tag.objects.bulk_create([Tag(name=f"t{i}", group=group) for i in range(journeys)])
    now = timezone.now()
    made = Journey.objects.bulk_create([
        Journey(name=f"J{i}", trigger="tag_added", trigger_params={"tag": tags[i].pk}, state="live",
                event_cursor=0, created_at=now, updated_at=now, activated_at=now) for i in range(journeys)])
    steps = []
    for j in made:
        steps += [JourneyStep(journey=j, version=1, position=1, kind="send",
                              config={"channel": "outbox", "content": "你好 {name}"}),
                  JourneyStep(journey=j, version=1, position=2, kind="task", config={"kind": "follow_up"}),
                  JourneyStep(journey=j, version=1, position=3, kind="wait", config={"mode": "duration", "days": 1})]
    JourneyStep.objects.bulk_create(steps)
    total = journeys * runs_each
    # Consent for the members the journeys hold (marketing on all channels and on WeCom, for the tasks).
    execute("INSERT INTO members_consent (member_id, purpose, channel, granted, updated_at) "
            "SELECT g, 'marketing', c, true, now() FROM generate_series(1, %s) g, unnest(ARRAY['all', 'wecom']) c "
            "WHERE g %% 100 < 98 ON CONFLICT DO NOTHING", [total + total // 40])
    execute("""
        INSERT INTO journeys_journeyrun (journey_id, version, member_id, store_id, period_key, step_id, phase,
                                         next_due_at, state, reason, trigger_at, entered_at)
        SELECT j.id, 1, m.id, m.home_store_id, '', s.id, 0, now() - interval '1 minute', 'active', '', now(), now()
        FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM journeys_journey WHERE trigger = 'tag_added') j
        JOIN journeys_journeystep s ON s.journey_id = j.id AND s.position = 1
        CROSS JOIN generate_series(0, %s - 1) AS r
        JOIN members_member m ON m.id = 1 + j.k * %s + r + (j.k * %s + r) / 97
        WHERE m.merged_into_id IS NULL AND m.erased_at IS NULL
    """, [runs_each, runs_each, runs_each])
    execute("VACUUM ANALYZE journeys_journeyrun")
    execute("VACUUM ANALYZE members_consent")
    due = execute("SELECT count(*) FROM journeys_journeyrun WHERE state = 'active' AND next_due_at <= now() "
                  "AND journey_id IN (SELECT id FROM journeys_journey WHERE trigger = 'tag_added')")[0][0]
    return tags, total, due


def backend_cpu() -> float | None:
    """CPU seconds the database server's process for this connection has used, when the server runs
    on this machine (/proc readable): beside the process's own, a figure the machine's load moves less."""
    pid = execute("SELECT pg_backend_pid()")[0][0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tick_until_done(batch: int, profile: bool = False):
    """Claim and advance batches until nothing is due: (seconds, CPU seconds of this process, of the
    database server's process or None, batches, the report)."""
    from journeys.services import ticking

    report = ticking.TickReport()
    batches = 0
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    server = backend_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    while ticking.advance_batch(now=timezone.now() + datetime.timedelta(seconds=1), limit=batch, report=report):
        batches += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    server = None if server is None else backend_cpu() - server
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
        stats.print_stats(int(os.environ.get("BENCH_LINES", "40")))
    return seconds, cpu, server, batches, report


def tick_floor() -> float:
    """The tick's floor: the rows it wrote, written again bare, in one statement each."""
    execute("CREATE TABLE bench_bare_delivery (LIKE campaigns_delivery INCLUDING DEFAULTS)")
    execute("CREATE TABLE bench_bare_task (LIKE journeys_task INCLUDING DEFAULTS)")
    execute("CREATE TABLE bench_bare_history (LIKE journeys_journeyrunstep INCLUDING DEFAULTS)")
    started = time.perf_counter()
    with transaction.atomic():
        execute("INSERT INTO bench_bare_delivery (send_month, id, campaign_id, member_id, state, reason, attempts, "
                "next_attempt_at, provider_message_id, error, created_at, updated_at) SELECT send_month, id, "
                "campaign_id, member_id, state, reason, attempts, next_attempt_at, '', '', now(), now() "
                "FROM campaigns_delivery")
        execute("INSERT INTO bench_bare_task SELECT * FROM journeys_task")
        execute("INSERT INTO bench_bare_history SELECT * FROM journeys_journeyrunstep")
        execute("UPDATE journeys_journeyrun SET phase = phase WHERE state = 'active'")
    return time.perf_counter() - started


def thousand(journeys: int, runs_each: int, events: int, batch: int, profile: bool) -> list[tuple]:
    from journeys.services import entry

    tags, total, due = make_journeys(journeys, runs_each)
    log(f"{journeys:,} live journeys, {due:,} runs due at their first step; load average {load()}")
    tick_seconds, tick_cpu, server_cpu, batches, report = tick_until_done(batch, profile)
    server = "" if server_cpu is None else f", {server_cpu:.1f} s in the database server"
    log(f"tick: {tick_seconds:.1f} s (CPU: {tick_cpu:.1f} s in Python{server}), {batches} batches of {batch:,}, "
        f"{report.steps:,} steps, {report.queued:,} queued, {report.tasks:,} tasks, {report.skipped:,} skipped; "
        f"load average {load()}")
    floor_seconds = tick_floor()
    log(f"tick floor: {floor_seconds:.1f} s")
    rows = [(f"tick: {journeys:,} journeys, {due:,} runs through send + task + wait ({batches} batches)",
             [tick_seconds], report.steps),
            ("tick floor (bare INSERTs of the same deliveries, tasks, history; one UPDATE of the runs)",
             [floor_seconds], report.steps)]
    # A pass of the journeys' entries over new events: each journey reads its span of the log.
    execute("""INSERT INTO scrm_event (type, occurred_at, member_id, store_id, data, relayed)
               SELECT 'member.tag_added', now() - interval '5 minutes', m.id, m.home_store_id,
                      jsonb_build_object('tag', jsonb_build_object('id', (%s::bigint[])[1 + g %% %s])), false
               FROM generate_series(1, %s) g JOIN members_member m ON m.id = %s + g""",
            [[t.pk for t in tags], journeys, events, total + total // 40])
    # The day's birthday entry was timed above: here only the event journeys. Every new event is settled
    # (older than the lag), as a minute later: the tick's own events came after them in time, before in id.
    execute("UPDATE journeys_journey SET entered_on = %s WHERE trigger = 'birthday'", [timezone.localdate()])
    started = time.perf_counter()
    entered = entry.run_entries(now=timezone.now() + entry.EVENT_LAG + datetime.timedelta(seconds=1))
    rows.append((f"entry pass: {journeys:,} journeys over {events:,} new events", [time.perf_counter() - started],
                 entered))
    return rows


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--journeys", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20, help="due runs per journey in the tick")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--database", default="bench_siyu_journeys")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--tick-batch", type=int, default=None, help="runs claimed per batch (the tick's default)")
    parser.add_argument("--profile", action="store_true", help="cProfile the tick (slows it)")
    parser.add_argument("--no-birthday", action="store_true", help="skip the birthday entry")
    parser.add_argument("--no-tick", action="store_true", help="skip the thousand journeys")
    args = parser.parse_args()

    from journeys.services import ticking
    from scrm.actors import SystemActor

    original = connection.settings_dict["NAME"]
    log(f"creating database {args.database} and migrating")
    create_database(args.database)
    try:
        now = timezone.now()
        generate(args.members, now, args.batch)
        actor = SystemActor("bench")
        today = timezone.localdate()
        results = [] if args.no_birthday else birthdays(actor, today, args.repeat)
        if not args.no_tick:
            results += thousand(args.journeys, args.runs, args.events, args.tick_batch or ticking.BATCH,
                                args.profile)
        print()
        print(f"members {args.members:,}, journeys {args.journeys:,} x {args.runs} due runs, "
              f"events {args.events:,}, repeat {args.repeat}; load average {load()}")
        for label, runs, count in results:
            median = statistics.median(runs)
            print(f"{label:<95} {median:8.2f} s  (worst {max(runs):.2f} s)  rows {count:,}  "
                  f"{count / median if median else 0:,.0f}/s")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        if not args.keep:
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
