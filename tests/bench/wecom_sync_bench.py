"""WeCom contact sync at scale, against the local WeCom server with its limits lifted.

    .venv/bin/python tests/bench/wecom_sync_bench.py                                  # 200 staff, 200,000 contacts
    .venv/bin/python tests/bench/wecom_sync_bench.py --staff 1000 --contacts 2000000  # ~10x
    .venv/bin/python tests/bench/wecom_sync_bench.py --staff 5000 --contacts 10000000 # the design target (hours)
    .venv/bin/python tests/bench/wecom_sync_bench.py --lanes 1                        # one worker, to compare

A command, not part of CI. It creates its own database (bench_siyu_wecom by default, dropped and
created again) on the server DATABASE_URL points at (the embedded one by default), migrates it, adds
stores and one store account per WeCom staff member (same username, so every staff member links),
starts the local WeCom server (wecom.fake) with no rate limits, then:

1. reads every page once without writing (what the local server and the HTTP client cost);
2. runs the initial full contact sync into members (--lanes worker processes sharing the run, as
   Celery workers do; 2 by default) and prints contacts (follow relations) per second, members per
   second, and what WeCom's own call limits would allow;
3. COPYs the same rows (one per follow: external_userid, name, gender, unionid, store, staff,
   remark, state, added_at) into a plain table with no index: the floor, and the ratio;
4. runs a second full sync over the unchanged corp (everything unchanged; nothing written);
5. applies /_fake/advance {changes: 0.01} (a day of 1% changes: new contacts, edits, deletions, each
   with its callback), runs an incremental sync and hands the callbacks to the contact handlers,
   and prints the rows touched beside the changes made.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

from scrm import embedded  # noqa: E402

embedded.prepare()
django.setup()

import httpx  # noqa: E402
from benchdb import create_database, execute, log  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

N_STORES = 20


def seed_accounts(staff: list[str]) -> None:
    from scrm.models import Region, Store, User

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"W{i:03d}", name=f"Store {i}", region=region, city="上海") for i in range(N_STORES)]
    )
    User.objects.bulk_create(
        [User(username=u, role="store_staff", store=stores[n % N_STORES]) for n, u in enumerate(staff)]
    )
    User.objects.create(username="bench_operator", role="operator", is_superuser=True)


def start_server(args):
    from wecom.fake import server
    from wecom.fake.corp import FakeCorp

    corp = FakeCorp(seed=7, staff_count=args.staff, contacts_per_staff=max(1, args.contacts // args.staff))
    running = server.start(corp, host="127.0.0.1", port=0, limits=None)
    settings.WECOM_API_BASE = running.url.rstrip("/")
    settings.WECOM_CORP_ID = corp.corp_id
    settings.WECOM_SECRET = corp.secret
    settings.WECOM_CALLS_PER_MINUTE = 10_000_000
    settings.WECOM_CALLS_PER_HOUR = 100_000_000
    return running, corp


def fetch_only(staff: list[str]) -> tuple[int, float]:
    from wecom.client import get_client

    client = get_client()
    started, rows = time.perf_counter(), 0
    for userid in staff:
        cursor = ""
        while True:
            answer = client.post("externalcontact/batch/get_by_user",
                                 {"userid_list": [userid], "cursor": cursor, "limit": 100})
            rows += len(answer.get("external_contact_list") or [])
            cursor = answer.get("next_cursor") or ""
            if not cursor:
                break
    return rows, time.perf_counter() - started


PROFILE_DIR = ""  # --profile: each lane of the full sync writes cProfile stats there
CPU: dict[str, float | None] = {}  # CPU seconds of the last run(), by who spent them


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process on this machine so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _StatementCPU:
    """--profile: the CPU the lane's PostgreSQL backend spends per kind of statement (its first
    words) and on commits (deferred constraint checks, WAL flush), read from /proc around each."""

    def __init__(self):
        self.spent: dict[str, list[float]] = {}

    def _key(self, sql: str) -> str:
        return " ".join(sql.split())[:90]

    def _timed(self, key: str, call):
        before = _cpu_seconds(self.backend)
        try:
            return call()
        finally:
            entry = self.spent.setdefault(key, [0.0, 0])
            entry[0] += _cpu_seconds(self.backend) - before
            entry[1] += 1

    def __enter__(self):
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend = cursor.fetchone()[0]
        self.wrapper = connection.execute_wrapper(
            lambda execute, sql, params, many, context: self._timed(self._key(sql), lambda: execute(sql, params, many,
                                                                                                  context)))
        self.wrapper.__enter__()
        commit = connection._commit
        connection._commit = lambda: self._timed("COMMIT", commit)
        self.total = _cpu_seconds(self.backend)
        return self

    def __exit__(self, *exc):
        self.wrapper.__exit__(*exc)
        self.total = _cpu_seconds(self.backend) - self.total

    def report(self) -> str:
        rows = sorted(self.spent.items(), key=lambda kv: -kv[1][0])
        lines = [f"backend CPU {self.total:.2f} s in all; per statement kind (seconds, count):"]
        lines += [f"{seconds:8.2f} {count:7d}  {key}" for key, (seconds, count) in rows]
        return "\n".join(lines) + "\n"


def _lane(run_id: int, pages: int, backends=None) -> None:
    """One worker process on the run (forked: its own database connection and WeCom client); puts
    the CPU seconds its PostgreSQL backend spent into `backends`."""
    from wecom.services import sync

    profiler = statements = None
    if PROFILE_DIR:
        import cProfile

        statements = _StatementCPU()
        profiler = cProfile.Profile(time.process_time)  # CPU time: what the figures count, not waits
        profiler.enable()
    with statements or contextlib.nullcontext():
        while sync.run_step(run_id=run_id, pages=pages, seconds=3600) in ("more", "busy"):
            pass
    if backends is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        try:
            backends.put(_cpu_seconds(backend))
        except OSError:  # PostgreSQL on another machine
            backends.put(None)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.path.join(PROFILE_DIR, f"lane-{os.getpid()}.prof"))
        Path(PROFILE_DIR, f"lane-{os.getpid()}.sql.txt").write_text(statements.report())


def run(kind: str, pages: int, lanes: int = 1):
    """The run from start to end with `lanes` worker processes at once, as Celery workers run it."""
    import multiprocessing
    import resource

    from django.db import connections

    from scrm.actors import SystemActor
    from wecom.models import SyncRun
    from wecom.services import sync

    result = sync.start_run(kind=kind, actor=SystemActor("bench"))
    started = time.perf_counter()
    connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("fork")
    backends = context.SimpleQueue()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = [context.Process(target=_lane, args=(result.run.pk, pages, backends)) for _ in range(lanes)]
    for worker in workers:
        worker.start()
        time.sleep(0.2)  # the first gives the run its cursors; the others then share them
    for worker in workers:
        worker.join()
    outcome = sync.run_step(run_id=result.run.pk, pages=pages, seconds=3600)  # "idle" once done
    elapsed = time.perf_counter() - started
    own2, children2 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    found = [backends.get() for _ in workers]
    CPU.clear()
    CPU.update({
        "local server (benchmark process)": own2.ru_utime + own2.ru_stime - own.ru_utime - own.ru_stime,
        "sync lanes (Python)": children2.ru_utime + children2.ru_stime - children.ru_utime - children.ru_stime,
        "their PostgreSQL backends": sum(found) if None not in found else None,
    })
    run = SyncRun.objects.get(pk=result.run.pk)
    assert run.status == "done", (outcome, run.status, run.error_code, run.pause_reason)
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]
    return run, elapsed, lanes


def copy_floor() -> tuple[int, float]:
    """The same rows, COPYed into a plain table with no index or constraint."""
    from members import sql as msql
    from wecom import sql

    execute("""CREATE TABLE bench_plain_contacts (external_userid text, name text, gender text, unionid text,
               store_id bigint, staff text, remark text, state text, added_at timestamptz)""")
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        cursor.copy_expert(f"""COPY (SELECT c.external_userid, m.name, m.gender, c.unionid, m.home_store_id,
                s.userid, r.remark, f.state, f.added_at
            FROM {sql.FOLLOW} f JOIN {sql.CONTACT} c ON c.id = f.contact_id JOIN {sql.STAFF} s ON s.id = f.staff_id
            JOIN {msql.MEMBER} m ON m.id = c.member_id LEFT JOIN {msql.STAFF_RELATION} r ON r.id = f.relation_id)
            TO STDOUT""", buffer)
    rows = buffer.getvalue().count("\n")
    buffer.seek(0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.copy_expert("COPY bench_plain_contacts FROM STDIN", buffer)
    elapsed = time.perf_counter() - started
    execute("DROP TABLE bench_plain_contacts")
    return rows, elapsed


def touched_since(moment) -> dict[str, int]:
    from members import sql as msql
    from wecom import sql

    def count(query):
        return execute(query, [moment])[0][0]

    return {
        "members updated": count(f"SELECT count(*) FROM {msql.MEMBER} WHERE updated_at >= %s"),
        "member events": count(f"SELECT count(*) FROM {msql.MEMBER_EVENT} WHERE created_at >= %s"),
        "contacts written": count(f"SELECT count(*) FROM {sql.CONTACT} WHERE synced_at >= %s"),
        "follows written": execute(
            f"SELECT count(*) FROM {sql.FOLLOW} WHERE synced_at >= %s OR deleted_at >= %s", [moment, moment]
        )[0][0],
    }


def simulated_day(running, corp, share: float = 0.01) -> dict[str, int]:
    """advance's mix by hand: 40% new contacts, 40% remarks edited, 20% deleted (half each side)."""
    import random

    rng = random.Random(11)
    total = round(corp.contact_count() * share)
    counts = {"added": 0, "edited": 0, "deleted": 0}
    with httpx.Client(base_url=f"{running.url}/_fake/", timeout=60) as http:
        for _ in range(total):
            roll = rng.random()
            userid = rng.choice(corp.staff)
            if roll < 0.4:
                http.post("add_contact", json={"userid": userid}).raise_for_status()
                counts["added"] += 1
                continue
            listed = corp.list_contacts(userid)
            if not listed:
                continue
            ext = rng.choice(listed)
            if roll < 0.8:
                http.post("edit", json={"userid": userid, "external_userid": ext,
                                        "remark": f"回访 {rng.randrange(1000)}"}).raise_for_status()
                counts["edited"] += 1
            else:
                http.post("delete", json={"userid": userid, "external_userid": ext,
                                          "by": rng.choice(("customer", "staff"))}).raise_for_status()
                counts["deleted"] += 1
    return counts


def incremental_day(running, corp, pages: int) -> None:
    from wecom.models import SyncKind
    from wecom.services import contact_events
    from wecom.services.events import Ignore

    events: list[dict] = []
    corp.listeners.append(events.append)
    moment = timezone.now()
    try:
        answer = httpx.post(f"{running.url}/_fake/advance", json={"changes": 0.01}, timeout=600)
        answer.raise_for_status()
        changes = answer.json()
    except httpx.HTTPError as exc:  # the same day through the single-change control endpoints
        log(f"/_fake/advance failed ({type(exc).__name__}); making the day's 1% through add_contact, edit, delete")
        changes = simulated_day(running, corp)
    log(f"advance: {changes}")
    run_row, elapsed, _lanes = run(SyncKind.CONTACTS_INCREMENTAL, pages, 1)
    started = time.perf_counter()
    handled = 0
    ignored = 0
    for event in events:
        fields = event.get("payload", event) if isinstance(event, dict) else {}
        change = fields.get("ChangeType")
        handler = (contact_events.refresh_contact if change in contact_events.REFRESH
                   else contact_events.record_deletion if change in contact_events.DELETES else None)
        if handler is None:
            continue
        try:
            handler(fields)
            handled += 1
        except Ignore:  # already written by the incremental run (a new contact, a churned follow)
            ignored += 1
    callbacks = time.perf_counter() - started
    touched = touched_since(moment)
    log(f"incremental run: {elapsed:.1f} s; added {run_row.added}, removed {run_row.removed}, "
        f"unchanged {run_row.unchanged}, failed {run_row.failed}")
    log(f"callbacks: {handled} applied, {ignored} changed nothing more, of {len(events)}, in {callbacks:.1f} s")
    log(f"changes made: {sum(v for v in changes.values() if isinstance(v, int))} ({changes}); rows touched: {touched}")


def main() -> None:
    import logging

    logging.getLogger("wecom").setLevel(logging.WARNING)  # one INFO line per call would drown the figures
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--staff", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=200_000, help="base contacts in all (per staff: this / staff)")
    parser.add_argument("--pages", type=int, default=200, help="pages per task step")
    parser.add_argument("--lanes", type=int, default=2, help="worker processes sharing the initial full sync")
    parser.add_argument("--database", default="bench_siyu_wecom")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--skip-rerun", action="store_true", help="skip the second full sync")
    parser.add_argument("--profile", default="", metavar="DIR",
                        help="write cProfile stats of each lane of the initial full sync into DIR")
    args = parser.parse_args()
    global PROFILE_DIR
    PROFILE_DIR = args.profile
    original = connection.settings_dict["NAME"]
    log(f"database {args.database}")
    create_database(args.database)
    running, corp = start_server(args)
    try:
        seed_accounts(corp.staff)
        rows, elapsed = fetch_only(corp.staff)
        fetch_rate = rows / elapsed
        log(f"fetch only: {rows:,} rows in {elapsed:.1f} s = {fetch_rate:,.0f} rows/s (local server + client)")
        from members.models import Member
        from wecom.models import SyncKind

        full, elapsed, lanes = run(SyncKind.CONTACTS, args.pages, args.lanes)
        members = Member.objects.count()
        follows = full.added
        log(f"full sync: {follows:,} follows, {members:,} members in {elapsed:.1f} s ({lanes} lanes): "
            f"{follows / elapsed:,.0f} contacts/s, {members / elapsed:,.0f} members/s; "
            f"{follows / elapsed / fetch_rate:.0%} of the fetch-only rate (load average {os.getloadavg()[0]:.1f})")
        spent = {who: seconds for who, seconds in CPU.items() if seconds is not None}
        log("CPU per 1,000 contacts: " + ", ".join(f"{who} {seconds / follows * 1000:.2f} s"
                                                   for who, seconds in spent.items())
            + f"; with 2 cores to itself that is {2 * follows / sum(spent.values()):,.0f} contacts/s")
        own = sum(seconds for who, seconds in spent.items() if who != "local server (benchmark process)")
        wecom_rate = 150_000 * 100 / 3600
        if own:
            log(f"Siyu alone (sync lanes + PostgreSQL, not the local server): {own / follows * 1000:.2f} CPU s per "
                f"1,000 contacts = {follows / own:,.0f} contacts/s per core; keeping up with WeCom's "
                f"{wecom_rate:,.0f}/s takes {wecom_rate * own / follows:.1f} cores")
        calls = -(-follows // 100)  # pages of 100, the fewest calls WeCom could answer them in
        log(f"WeCom's limits (150,000 calls an hour per API, pages of 100) allow {150_000 * 100 / 3600:,.0f} "
            f"contacts/s; this run made >= {calls:,} calls, {calls / elapsed:,.1f} a second")
        copied, copy_elapsed = copy_floor()
        log(f"COPY of the same {copied:,} rows into a plain table: {copy_elapsed:.2f} s = "
            f"{copied / copy_elapsed:,.0f} rows/s; the sync takes {elapsed / copy_elapsed:,.1f}x the COPY's time")
        if not args.skip_rerun:
            again, elapsed2, _ = run(SyncKind.CONTACTS, args.pages, args.lanes)
            log(f"second full sync (unchanged corp): {elapsed2:.1f} s; added {again.added}, updated {again.updated}, "
                f"unchanged {again.unchanged:,}, removed {again.removed}")
        incremental_day(running, corp, args.pages)
    finally:
        running.stop()
        connection.close()
        if not args.keep:
            connection.settings_dict["NAME"] = original
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
