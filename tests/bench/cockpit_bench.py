"""The cockpit at scale: the summaries' refresh and every section's reading, brand-wide and for one
store's manager, each timed.

    .venv/bin/python tests/bench/cockpit_bench.py                                   # 10M members, 50M orders
    .venv/bin/python tests/bench/cockpit_bench.py --members 1000000 --orders 5000000  # a quicker look

A command, not part of CI. It creates its own database (bench_siyu_cockpit by default, dropped and
created again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. generates 50 stores, N members with generate_series (joined over three years, seven sources,
   stages, 1 % merged), a staff relation with a channel-code state for one member in ten, a stage
   change on the timeline for one in twenty, and M orders over three years on four channels (a
   few members buy often; 10 % from pending buyers, 2 % with no identity, 3 % refunded in part,
   1 % in full), into tables stripped of their secondary indexes (rebuilt afterwards; not timed),
   and the segments' bitmap index built once. Then the other apps' rows the cockpit reads, one per
   member or fewer (all set-based, not timed): six campaigns over the last 60 days, each delivered
   to a fifth of the members (one in fifty of them held out) with a click for one in a hundred; a
   task for one member in five (created over 400 days, most done, some late, some open and overdue);
   a running group per store, one member in ten joined, 2,000 events, a sign-up for one member in
   ten and a check-in for half of those; a creator for one member in a hundred with ten posts each;
   a WeCom contact for one member in ten, one in five of them deleted by the customer; one order in
   ten credited to one of three guides;
2. times the full refresh of every summary (insights.cockpit.services, the distinct campaign members
   of every preset period included), the quick one, and the hourly ones of the short presets' buyers
   and campaign members;
3. times each section of the cockpit (pool, funnel, sales, campaigns, tasks, communities, koc,
   churn) for the operator and for a store manager, and of the store page (the store's members,
   leaderboard, overdue tasks) for the manager, for every preset period (read from the summaries)
   and for a custom 45-day period (buyers counted live), --repeat times each, and prints the
   median and the worst.

With --keep the database stays; --reuse times it again (after a change of the cockpit's code) without
generating the rows: it migrates it, then refreshes and reads as above (rows are those of the first
run's day: periods ending today see them shifted by the days since).
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
                                updated_at, merged_into_id)
    SELECT g, 'M' || g, '', 'u', (%(stores)s::bigint[])[1 + g %% 50],
           (ARRAY['store_qr','order','ad','referral','event','import','other'])[1 + (g / 7) %% 7],
           (ARRAY['aware','aware','appeal','ask','act','advocate'])[1 + (g / 3) %% 6], '{}',
           %(base)s - interval '1 day' * (1095.0 * (%(n)s - g) / %(n)s) - interval '1 second' * (g %% 86400),
           %(base)s, CASE WHEN g %% 100 = 99 THEN g - 1 END
    FROM generate_series(%(lo)s, %(hi)s) AS g
"""

RELATIONS_SQL = """
    INSERT INTO members_staffrelation (member_id, staff_id, store_id, add_way, state, remark, description, is_owner,
                                       added_at)
    SELECT g, %(staff)s, (%(stores)s::bigint[])[1 + g %% 50], 'qr', 'code_' || (g %% 40), '', '', false, %(base)s
    FROM generate_series(10, %(n)s, 10) AS g
"""

EVENTS_SQL = """
    INSERT INTO members_memberevent (member_id, kind, data, actor_label, created_at)
    SELECT g, 'updated', jsonb_build_object('changes', jsonb_build_object('stage',
               jsonb_build_array('aware', (ARRAY['appeal','ask','act','advocate'])[1 + g %% 4]))), 'bench',
           %(base)s - interval '1 day' * (random() * 400)
    FROM generate_series(20, %(n)s, 20) AS g
"""

# Buyers skewed towards low ids' neighbours (r2 squared): a few buy often.
ORDERS_SQL = """
    INSERT INTO orders_order (id, channel, external_id, member_id, buyer_channel, buyer_namespace, buyer_external_id,
        store_id, attribution, referral_code, currency, total_amount, refunded_amount, status, staff_id, placed_at,
        created_at, updated_at)
    SELECT i, (ARRAY['pos','tmall','douyin','miniprogram'])[1 + (i %% 4)], 'O' || i,
           CASE WHEN r1 < 0.12 THEN NULL ELSE 1 + floor(r2 * r2 * %(n)s)::bigint END,
           CASE WHEN r1 < 0.10 THEN 'tmall' ELSE '' END, '',
           CASE WHEN r1 < 0.10 THEN 'tb' || (i %% 2000000) ELSE '' END,
           (%(stores)s::bigint[])[1 + i %% 50], 'none', '', 'CNY', amount,
           CASE WHEN r1 > 0.99 THEN amount WHEN r1 > 0.96 THEN round(amount / 2, 2) ELSE 0 END,
           CASE WHEN r1 > 0.99 THEN 'refunded' WHEN r1 > 0.96 THEN 'partially_refunded' ELSE 'paid' END,
           CASE WHEN i %% 10 = 0 THEN (%(guides)s::bigint[])[1 + (i / 10) %% 3] END,
           %(base)s - make_interval(secs => r3 * 1095 * 86400), %(base)s, %(base)s
      FROM (SELECT i, random() r1, random() r2, random() r3, round((20 + random() * 500)::numeric, 2) amount
              FROM generate_series(%(lo)s, %(hi)s) i) g
"""


def stripped(table: str):
    """Drop `table`'s secondary indexes and foreign keys (the primary key stays); return what puts
    them back."""
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


def restore(statements: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for statement in statements:
            cursor.execute(statement)


def step(label: str, started: float) -> float:
    seconds = time.perf_counter() - started
    log(f"{label}: {seconds:.1f} s")
    return seconds


def generate(n: int, m: int, base: datetime.datetime, batch: int) -> None:
    from members.segments import index
    from scrm.models import Region, Role, Store, User

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"C{i:03d}", name=f"Store {i}", region=region, city="上海") for i in range(N_STORES)])
    staff = User.objects.create(username="guide", role=Role.STORE_STAFF, store=stores[0])
    guides = [User.objects.create(username=f"guide{i}", role=Role.STORE_STAFF, store=stores[0]).pk for i in range(3)]
    params = {"stores": [s.pk for s in stores], "base": base, "n": n, "staff": staff.pk, "guides": guides}
    for trigger in MEMBER_TRIGGERS:
        execute(f"ALTER TABLE members_member DISABLE TRIGGER {trigger}")
    restores = [stripped(t) for t in ("members_member", "members_staffrelation", "members_memberevent",
                                      "orders_order")]
    started = time.perf_counter()
    for lo in range(1, n + 1, batch):
        with transaction.atomic():
            execute(MEMBERS_SQL, {**params, "lo": lo, "hi": min(n, lo + batch - 1)})
    execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), %s)", [n])
    execute(RELATIONS_SQL, params)
    execute(EVENTS_SQL, params)
    step(f"members: {n:,}, relations and stage changes", started)
    started = time.perf_counter()
    for lo in range(1, m + 1, batch * 4):
        with transaction.atomic():
            execute(ORDERS_SQL, {**params, "lo": lo, "hi": min(m, lo + batch * 4 - 1)})
    execute("SELECT setval(pg_get_serial_sequence('orders_order', 'id'), %s)", [m])
    step(f"orders: {m:,}", started)
    started = time.perf_counter()
    for statements in restores:
        restore(statements)
    step("indexes and constraints rebuilt", started)
    for trigger in MEMBER_TRIGGERS:
        execute(f"ALTER TABLE members_member ENABLE TRIGGER {trigger}")
    started = time.perf_counter()
    index.rebuild()
    step("segments bitmap index built", started)
    started = time.perf_counter()
    generate_activity(n, base, params)
    step("campaigns, tasks, communities, creators, WeCom contacts", started)
    started = time.perf_counter()
    execute("VACUUM ANALYZE")
    step("vacuum analyze", started)


def insert(model, columns: dict[str, str], source: str, params: dict) -> None:
    """INSERT INTO model's table SELECT `columns` (column: SQL expression) FROM `source`; every other
    NOT NULL column without a database default gets its field's default (now for timestamps)."""
    import json

    from django.db.models import NOT_PROVIDED

    values, extra = dict(columns), {}
    for f in model._meta.concrete_fields:
        if f.column in values or f.null or f.primary_key or f.db_default is not NOT_PROVIDED:
            continue
        default = f.get_default()
        if default is None and f.get_internal_type() == "DateTimeField":  # auto_now
            default = timezone.now()
        if isinstance(default, (dict, list)):
            default = json.dumps(default)
        key = f"d_{f.column}"
        extra[key] = default
        values[f.column] = f"%({key})s"
    sql = (f"INSERT INTO {model._meta.db_table} ({', '.join(values)}) "
           f"SELECT {', '.join(values.values())} FROM {source}")
    execute(sql, {**params, **extra})


def generate_activity(n: int, base: datetime.datetime, params: dict) -> None:
    from campaigns.links.models import Click, ShortLink
    from campaigns.models import Campaign, Delivery
    from campaigns.partitions import create_partition, month_of
    from communities.models import CheckIn, Community, CommunityMembership, Event, SignUp
    from journeys.models import Task
    from koc.models import Creator, Post
    from wecom.models import WecomContact, WecomFollow, WecomStaff

    stores, guides = params["stores"], params["guides"]
    p = {**params, "n": n}
    for k in range(6):
        started_at = base - datetime.timedelta(days=5 + 10 * k)
        month = month_of(started_at)
        create_partition(month)
        campaign = Campaign.objects.create(name=f"Bench {k}", channel="outbox", content="Hi", status="done",
                                           started_at=started_at, send_month=month, finished_at=started_at)
        link = ShortLink.objects.create(code=f"bench{k}", campaign=campaign, target_url="https://example.com/")
        q = {**p, "c": campaign.pk, "month": month, "k": k, "at": started_at, "link": link.pk}
        insert(Delivery, {"send_month": "%(month)s", "campaign_id": "%(c)s", "member_id": "g",
                          "state": "CASE WHEN g %% 50 = 0 THEN 'held_out' ELSE 'sent' END",
                          "sent_at": "CASE WHEN g %% 50 = 0 THEN NULL ELSE %(at)s::timestamptz END"},
               "generate_series(1 + %(k)s, %(n)s, 5) g", q)
        insert(Click, {"link_id": "%(link)s", "campaign_id": "%(c)s", "member_id": "g",
                       "clicked_at": "%(at)s::timestamptz + interval '1 hour'",
                       "minute": "date_trunc('minute', %(at)s::timestamptz + interval '1 hour')"},
               "generate_series(1 + %(k)s, %(n)s, 100) g", q)
    # Tasks: one member in five, created over 400 days, due two days later; 70 % done (one in
    # seven of them late), 10 % expired, the rest open.
    insert(Task, {"kind": "'follow_up'", "member_id": "g", "assignee_id": "%(staff)s",
                  "store_id": "(%(stores)s::bigint[])[1 + g %% 50]",
                  "created_at": "%(base)s::timestamptz - interval '1 day' * (g %% 400)",
                  "due_at": "%(base)s::timestamptz - interval '1 day' * (g %% 400) + interval '2 days'",
                  "state": "CASE WHEN g %% 10 < 7 THEN 'done' WHEN g %% 10 = 7 THEN 'expired' ELSE 'open' END",
                  "outcome": "CASE WHEN g %% 10 < 7 THEN (ARRAY['reached','no_answer','bought'])[1 + g %% 3] "
                             "ELSE '' END",
                  "done_at": "CASE WHEN g %% 10 < 7 THEN %(base)s::timestamptz - interval '1 day' * (g %% 400) "
                             "+ interval '1 day' * (1 + (g %% 7 = 0)::int * 3) END",
                  "done_by_id": "CASE WHEN g %% 10 < 7 THEN %(staff)s END"},
           "generate_series(3, %(n)s, 5) g", p)
    communities = [Community.objects.create(store_id=store, name=f"Runners {i}", kind="running",
                                            owner_id=guides[i % 3]).pk for i, store in enumerate(stores)]
    p["communities"] = communities
    insert(CommunityMembership, {"community_id": "(%(communities)s::bigint[])[1 + g %% 50]", "member_id": "g",
                                 "joined_at": "%(base)s::timestamptz - interval '1 day' * (g %% 400)"},
           "generate_series(7, %(n)s, 10) g", p)
    insert(Event, {"community_id": "(%(communities)s::bigint[])[1 + g %% 50]",
                   "store_id": "(%(stores)s::bigint[])[1 + g %% 50]", "title": "'Run'", "place": "'Park'",
                   "starts_at": "%(base)s::timestamptz - interval '1 day' * (g %% 400)",
                   "ends_at": "%(base)s::timestamptz - interval '1 day' * (g %% 400) + interval '2 hours'",
                   "capacity": "100"}, "generate_series(1, 2000) g", p)
    first_event = Event.objects.order_by("pk").values_list("pk", flat=True).first()
    p["event0"] = first_event
    insert(SignUp, {"event_id": "%(event0)s + g %% 2000", "member_id": "g",
                    "store_id": "(%(stores)s::bigint[])[1 + g %% 50]", "state": "'attended'", "code": "'S' || g",
                    "created_at": "%(base)s::timestamptz - interval '1 day' * (g %% 400) - interval '3 days'"},
           "generate_series(9, %(n)s, 10) g", p)
    insert(CheckIn, {"event_id": "%(event0)s + g %% 2000", "member_id": "g",
                     "store_id": "(%(stores)s::bigint[])[1 + g %% 50]", "source": "'list'",
                     "at": "%(base)s::timestamptz - interval '1 day' * (g %% 400)"},
           "generate_series(9, %(n)s, 20) g", p)
    insert(Creator, {"member_id": "g"}, "generate_series(11, %(n)s, 100) g", p)
    insert(Post, {"creator_id": "c.id", "platform": "'xiaohongshu'", "url": "'https://x.example/' || c.id || '/' || k",
                  "url_key": "'x/' || c.id || '/' || k",
                  "published_at": "%(base)s::timestamptz - interval '1 day' * ((c.id * 7 + k * 37) %% 400)",
                  "views": "(c.id * k) %% 5000", "media_value": "((c.id * k) %% 5000) / 10.0"},
           f"{Creator._meta.db_table} c CROSS JOIN generate_series(1, 10) k", p)
    wstaff = WecomStaff.objects.create(userid="guide", user_id=params["staff"], store_id=stores[0])
    p["wstaff"] = wstaff.pk
    insert(WecomContact, {"external_userid": "'wm' || g", "member_id": "g"}, "generate_series(13, %(n)s, 10) g", p)
    insert(WecomFollow, {"contact_id": "c.id", "staff_id": "%(wstaff)s",
                         "deleted_at": "CASE WHEN c.id %% 5 = 0 THEN %(base)s::timestamptz "
                                       "- interval '1 day' * (c.id %% 400) END",
                         "deleted_by": "CASE WHEN c.id %% 5 = 0 THEN 'customer' ELSE '' END"},
           f"{WecomContact._meta.db_table} c", p)


def timed(fn, repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), max(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=50_000_000)
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="bench_siyu_cockpit")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="time a database kept by an earlier run (--keep) of the same size: migrate it, "
                             "refresh and read, without generating the rows again")
    args = parser.parse_args()

    from insights.cockpit import base, services
    from scrm.models import Role, Store, User

    original = connection.settings_dict["NAME"]
    try:
        if args.reuse:
            from django.core.management import call_command

            log(f"migrating the kept database {args.database}")
            connection.close()
            connection.settings_dict["NAME"] = args.database
            call_command("migrate", verbosity=0)
        else:
            log(f"creating database {args.database} and migrating")
            create_database(args.database)
            generate(args.members, args.orders, timezone.now(), args.batch)
        results = []
        started = time.perf_counter()
        full = services.refresh(full=True)
        results.append(("refresh, full", time.perf_counter() - started, None, full))
        started = time.perf_counter()
        quick = services.refresh(full=False)
        results.append(("refresh, quick", time.perf_counter() - started, None, quick))
        started = time.perf_counter()
        services.refresh_buyers(presets=services.QUICK_BUYER_PRESETS)
        results.append(("refresh, buyers of 7 and 30 days", time.perf_counter() - started, None, None))
        started = time.perf_counter()
        services.refresh_campaign_members(presets=services.QUICK_BUYER_PRESETS)
        results.append(("refresh, campaign members of 7 and 30 days", time.perf_counter() - started, None, None))
        operator = User.objects.update_or_create(username="alice", defaults={"role": Role.OPERATOR})[0]
        store = Store.objects.order_by("pk").first()
        manager = User.objects.update_or_create(username="bob", defaults={"role": Role.STORE_MANAGER,
                                                                         "store": store})[0]
        today = timezone.localdate()
        periods = [base.preset_period(d, today=today) for d in base.PRESETS] + [
            base.Period(today - datetime.timedelta(days=59), today - datetime.timedelta(days=15))]
        for who, actor, page in (("operator", operator, "cockpit"), ("manager", manager, "cockpit"),
                                 ("manager", manager, "store")):
            for period in periods:
                board = base.open_cockpit(actor, period=period)
                for section in base.sections(page):
                    label = f"{section.key:<17} {who:<8} {period.days:>3} days{'' if period.preset else ' (custom)'}"
                    median, worst = timed(lambda s=section, b=board: s.build(b), args.repeat)
                    results.append((label, median, worst, None))
                    log(f"{label}: median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms")
        print()
        print(f"members {args.members:,}, orders {args.orders:,}, repeat {args.repeat}")
        for label, median, worst, detail in results:
            extra = f"  {detail}" if detail else ""
            worst_text = f"  worst {worst * 1000:8.0f} ms" if worst is not None else ""
            print(f"{label:<48} {median * 1000:8.0f} ms{worst_text}{extra}")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        if not args.keep:
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
