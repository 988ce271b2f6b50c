"""A campaign over WeCom customer mass messages at scale, against the local WeCom server with its rate
limits lifted: what Siyu itself costs, beside what WeCom's own call limits allow for the same send.

    .venv/bin/python tests/bench/campaign_wecom_bench.py                       # 1,000,000 members, 1,000 staff
    .venv/bin/python tests/bench/campaign_wecom_bench.py --members 100000 --staff 200

A command, not part of CI. It creates its own database (bench_siyu_campaign_wecom by default, dropped
and created again) on the server DATABASE_URL points at (the embedded one by default), migrates it,
starts the local WeCom server (wecom.fake) with no rate limits and every staff member confirming at
once, then:

1. seeds N members set-based as a finished contact sync leaves them: each the contact of one staff
   member (their owner), with the relation, the WeCom contact and follow, and marketing consent;
2. starts a campaign on the `wecom` channel over all of them (snapshot + fan-out, timed beside the
   floor: the same rows INSERT ... SELECTed into a scratch table with the deliveries' indexes);
3. runs 2 worker processes of the real sending tick (tests/campaigns/tickloop.py) until no delivery
   is pending or sending: every delivery is then "waiting for staff confirmation", in one
   add_msg_template task per staff member and claim (at most 10,000 customers a task);
4. polls the results as the poller does (campaigns.services.wecom_results.poll, 2 processes, every
   task due) until every task is finished: each delivery sent, with one cap slot each;
5. prints deliveries/s for both phases beside what WeCom's documented limits (10,000 calls a minute
   and 150,000 an hour per API, per corp) allow for calls of the same size, and checks the ledger:
   every delivery sent once, in one task, with one cap slot.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # the client logs every call at INFO

import django  # noqa: E402

from scrm import embedded  # noqa: E402

embedded.prepare()
django.setup()

from benchdb import create_database, execute, log  # noqa: E402
from campaign_bench import database_url, floor  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402

from tests.campaigns import load  # noqa: E402

TICKLOOP = ROOT / "tests" / "campaigns" / "tickloop.py"
N_STORES = 20
CALLS_PER_MINUTE, CALLS_PER_HOUR = 10_000, 150_000  # WeCom's per-API limits per corp (WECOM.md)
POLLER = """
import os, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
import django
django.setup()
from campaigns.services import wecom_results
print("ready", flush=True)
sys.stdin.readline()
polled = 0
while True:
    report = wecom_results.poll(limit=50)
    polled += report.polled
    if report.errors:
        print("errors", report.errors[:2], file=sys.stderr, flush=True)
    if not report.polled:
        break
print(f"done polled={{polled}}", flush=True)
"""


def start_server(args):
    from wecom.fake import server
    from wecom.fake.corp import FakeCorp

    corp = FakeCorp(seed=11, staff_count=args.staff, contacts_per_staff=args.members // args.staff, shared_ratio=0,
                    confirm_delay=0, confirm_share=1.0, daily_cap=5)
    running = server.start(corp, host="127.0.0.1", port=0, limits=None)
    wecom_env = {
        "WECOM_API_BASE": running.url.rstrip("/"), "WECOM_CORP_ID": corp.corp_id, "WECOM_SECRET": corp.secret,
        "WECOM_CALLS_PER_MINUTE": "10000000", "WECOM_CALLS_PER_HOUR": "100000000",
    }
    for name, value in wecom_env.items():
        setattr(settings, name, int(value) if value.isdigit() else value)
    return running, corp, wecom_env


def _copy(table: str, columns: str, rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(str(v) for v in row) + "\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def seed(corp, members: int) -> None:
    """Members as a finished contact sync leaves them: member g is contact g-1 of the local corp, owned
    by the staff member it belongs to, with relation, contact, follow and marketing consent."""
    from scrm.models import Region, Store, User
    from wecom.models import WecomStaff

    region = Region.objects.create(code="wbench", name="WeCom bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"WB{i:02d}", name=f"门店 {i}", region=region, city="上海") for i in range(N_STORES)])
    users = User.objects.bulk_create(
        [User(username=u, role="store_staff", store=stores[n % N_STORES]) for n, u in enumerate(corp.staff)])
    staff = WecomStaff.objects.bulk_create(
        [WecomStaff(userid=u.username, name=u.username, user=u, store=u.store) for u in users])
    per = corp.per_staff
    _copy("bench_staff", "s, user_id, wecom_staff_id, store_id",
          ((n, u.pk, w.pk, u.store_id) for n, (u, w) in enumerate(zip(users, staff, strict=True))))
    started = time.perf_counter()
    _copy("bench_ext", "i, external_userid", ((i, corp.external_userid(i)) for i in range(members)))
    log(f"  external_userids of {members:,} contacts computed and copied in {time.perf_counter() - started:.1f} s")
    execute("ANALYZE bench_staff, bench_ext")
    execute(f"""
        INSERT INTO members_member (id, name, phone, gender, source, stage, created_at, updated_at, home_store_id,
                                    owner_id, attributes)
        SELECT e.i + 1, '客户' || e.i, '', 'u', 'wecom', 'aware', now(), now(), s.store_id, s.user_id, '{{}}'
        FROM bench_ext e JOIN bench_staff s ON s.s = e.i / {per}""")
    execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), (SELECT max(id) FROM members_member))")
    execute("""INSERT INTO members_consent (member_id, purpose, channel, granted, updated_at)
               SELECT id, 'marketing', 'all', true, now() FROM members_member""")
    execute("""INSERT INTO members_identity (member_id, channel, namespace, external_id, created_at)
               SELECT e.i + 1, 'wecom', '', e.external_userid, now() FROM bench_ext e""")
    execute(f"""
        INSERT INTO members_staffrelation (id, member_id, staff_id, store_id, add_way, state, remark, description,
                                           is_owner, added_at)
        SELECT e.i + 1, e.i + 1, s.user_id, s.store_id, 'qr', '', '', '', true, now()
        FROM bench_ext e JOIN bench_staff s ON s.s = e.i / {per}""")
    execute("""INSERT INTO wecom_wecomcontact (id, external_userid, member_id, unionid, kind, digest, first_synced_at,
                                               synced_at)
               SELECT e.i + 1, e.external_userid, e.i + 1, '', 1, '', now(), now() FROM bench_ext e""")
    execute(f"""
        INSERT INTO wecom_wecomfollow (contact_id, staff_id, relation_id, add_way, state, added_at, digest, synced_at,
                                       deleted_by)
        SELECT e.i + 1, s.wecom_staff_id, e.i + 1, 1, '', now(), '', now(), ''
        FROM bench_ext e JOIN bench_staff s ON s.s = e.i / {per}""")
    for table in ("members_staffrelation", "wecom_wecomcontact"):
        execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    execute("DROP TABLE bench_ext, bench_staff")


def _processes(commands: list[list[str]], env: dict) -> list[subprocess.Popen]:
    procs = [subprocess.Popen(c, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for c in commands]
    for proc in procs:
        line = proc.stdout.readline().strip()
        assert line == "ready", f"process said {line!r}"
    return procs


def _go(procs) -> None:
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()


def _open_deliveries(campaign_id: int) -> int:
    return execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state IN ('pending', 'sending')",
                   [campaign_id])[0][0]


def sending(campaign_id: int, workers: int, env: dict) -> float:
    command = [sys.executable, str(TICKLOOP), "tick", "--wait-go", "--idle", "0.05", "--max-seconds", "3600"]
    procs = _processes([command] * workers, env)
    started = time.perf_counter()
    _go(procs)
    while _open_deliveries(campaign_id):
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(120)
        log(f"  worker {proc.pid}: {proc.stdout.read().strip()} (exit {proc.returncode})")
    return elapsed


def polling(processes: int, env: dict) -> float:
    execute("UPDATE campaigns_wecommasstask SET next_poll_at = now() - interval '1 minute' "
            "WHERE finished_at IS NULL AND state = 'created'")
    connections.close_all()
    command = [sys.executable, "-c", POLLER.format(root=str(ROOT))]
    procs = _processes([command] * processes, env)
    started = time.perf_counter()
    _go(procs)
    for proc in procs:
        proc.wait()
    elapsed = time.perf_counter() - started
    for proc in procs:
        log(f"  poller {proc.pid}: {proc.stdout.read().strip()} (exit {proc.returncode})")
    return elapsed


def allowed(calls: int, rows: int) -> str:
    """What WeCom's per-API limits allow for `rows` carried by `calls` calls of one API: per second in
    a minute's burst (10,000 calls) and sustained over an hour (150,000 calls)."""
    per_call = rows / calls if calls else 0
    return (f"{per_call * CALLS_PER_MINUTE / 60:,.0f}/s in a minute's burst, "
            f"{per_call * CALLS_PER_HOUR / 3600:,.0f}/s sustained")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--staff", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="bench_siyu_campaign_wecom")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    args.members -= args.members % args.staff
    original = connection.settings_dict["NAME"]
    log(f"database {args.database}")
    create_database(args.database)
    running, corp, wecom_env = start_server(args)
    try:
        load.operator()
        execute("CREATE UNLOGGED TABLE bench_staff (s int PRIMARY KEY, user_id bigint, wecom_staff_id bigint, "
                "store_id bigint)")
        execute("CREATE UNLOGGED TABLE bench_ext (i bigint PRIMARY KEY, external_userid text)")
        started = time.perf_counter()
        seed(corp, args.members)
        log(f"seeded {args.members:,} WeCom contacts of {args.staff:,} staff as members in "
            f"{time.perf_counter() - started:.1f} s")
        execute("VACUUM ANALYZE")
        load.checked_policy()
        campaign, fanout_s = load.start_campaign(name="wecom bench", channel="wecom",
                                                 content="春季新品到店，欢迎来试吃")
        written = execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s", [campaign.pk])[0][0]
        indexed = floor(campaign, True)
        log(f"fan-out: {written:,} deliveries in {fanout_s:.2f} s (snapshot + INSERT ... SELECT with the relation "
            f"chosen per member); floor with the deliveries' indexes {indexed:.2f} s ({fanout_s / indexed:.1f}x)")
        env = {**os.environ, **wecom_env, "DATABASE_URL": database_url(), "REDIS_URL": os.environ.get("REDIS_URL", "")}
        connections.close_all()
        elapsed = sending(campaign.pk, args.workers, env)
        tasks, customers = execute("SELECT count(*), coalesce(sum(customers), 0) FROM campaigns_wecommasstask "
                                   "WHERE campaign_id = %s AND state = 'created'", [campaign.pk])[0]
        accepted = execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state = 'accepted'",
                           [campaign.pk])[0][0]
        log(f"send: {accepted:,} deliveries waiting for staff confirmation in {tasks:,} tasks "
            f"({customers:,} customers) by {args.workers} workers in {elapsed:.1f} s = {accepted / elapsed:,.0f}/s; "
            f"WeCom's add_msg_template limits allow {allowed(tasks, customers)}")
        elapsed = polling(args.workers, env)
        states = dict(execute("SELECT state, count(*) FROM campaigns_delivery WHERE campaign_id = %s GROUP BY 1",
                              [campaign.pk]))
        finished = execute("SELECT count(*) FROM campaigns_wecommasstask WHERE campaign_id = %s "
                           "AND finished_at IS NOT NULL", [campaign.pk])[0][0]
        pages = execute("SELECT coalesce(sum(ceil(customers / 1000.0)), 0)::int FROM campaigns_wecommasstask "
                        "WHERE campaign_id = %s AND state = 'created'", [campaign.pk])[0][0]
        log(f"results: {states.get('sent', 0):,} sent, {finished:,} of {tasks:,} tasks finished, polled by "
            f"{args.workers} processes in {elapsed:.1f} s = {states.get('sent', 0) / elapsed:,.0f}/s; "
            f"{pages:,} get_groupmsg_send_result pages: WeCom's limits allow {allowed(pages, customers)}")
        slots = execute("SELECT coalesce(sum(count), 0) FROM campaigns_membersendday")[0][0]
        twice = execute("SELECT count(*) FROM (SELECT member_id FROM campaigns_delivery WHERE campaign_id = %s "
                        "GROUP BY 1 HAVING count(*) > 1) x", [campaign.pk])[0][0]
        in_two = execute("SELECT count(*) FROM (SELECT d FROM campaigns_wecommasstask t, unnest(t.delivery_ids) d "
                         "WHERE t.campaign_id = %s AND t.state = 'created' GROUP BY d HAVING count(*) > 1) x",
                         [campaign.pk])[0][0]
        wrong = []
        if states.get("sent", 0) != written:
            wrong.append(f"states {states}")
        if slots != states.get("sent", 0):
            wrong.append(f"cap slots {slots:,} for {states.get('sent', 0):,} sent")
        if twice or in_two:
            wrong.append(f"{twice} members with two deliveries, {in_two} deliveries in two tasks")
        log(f"check: states {states}, cap slots {slots:,}, deliveries in two tasks {in_two}: "
            + ("OK" if not wrong else "PROBLEMS: " + "; ".join(wrong)))
    finally:
        running.stop()
        connection.close()
        if not args.keep:
            connection.settings_dict["NAME"] = original
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
