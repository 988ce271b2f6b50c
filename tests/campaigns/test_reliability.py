"""The sending engine under failure, with real processes and real servers: worker processes killed
with SIGKILL mid-send, two tick loops and two beat-like schedulers at once, a provider that takes a
batch and then times out past the lease, Redis and PostgreSQL restarted mid-send, and a Celery
worker's warm shutdown. After each, every recipient has exactly one outbox message or one recorded
reason, nothing is lost or sent twice, the cap slots counted equal the messages sent, and the
campaign is done only once all of that holds (checked while it runs, too).

The checks can fail: test_the_checks_catch_a_provider_that_cannot_settle runs a provider whose
settle forgets what it took, and the ledger check and the repeat record both catch it. Running the
SIGKILL test with the lease settle switched off in the workers (SIYU_TICKLOOP_NO_SETTLE=1, the
tick loop then skips sending.settle_leases) leaves the killed workers' rows "sending" and fails it.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.campaigns import load, providers

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TICKLOOP = str(ROOT / "tests" / "campaigns" / "tickloop.py")
MEMBERS = 3000
KILLS = 6
PROVIDER = providers.RecordingOutbox.code


# --- fixtures --------------------------------------------------------------------------------------


def _db_url(name: str | None = None) -> str:
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    name = name or s["NAME"]
    if host.startswith("/"):
        return f"postgres://{s['USER']}@/{name}?host={host}&port={s['PORT'] or 5432}"
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{name}"


@pytest.fixture
def send(db):
    """A started campaign over MEMBERS seeded members on the recording outbox, the checked policy
    (caps counted, quiet hours elsewhere), and the repeat record table."""
    providers.register()
    with connection.cursor() as cursor:
        providers.create_repeats_table(cursor)
        cursor.execute(f"TRUNCATE {providers.REPEATS}")
    load.seed_members(MEMBERS, store_ids=load.stores(3))
    load.checked_policy()
    campaign, _ = load.start_campaign(name=f"reliability {uuid.uuid4().hex[:6]}", channel=PROVIDER)
    yield campaign
    providers.unregister()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {providers.REPEATS}")


class Procs:
    """Subprocesses a test starts, each ended by its own pid when the test ends."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.running: list[subprocess.Popen] = []

    def start(self, *command: str, env: dict | None = None, ready: bool = True) -> subprocess.Popen:
        proc = subprocess.Popen(list(command), env={**self.env, **(env or {})}, cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.running.append(proc)
        if ready:
            line = proc.stdout.readline().strip()
            if line != "ready":
                proc.kill()
                raise AssertionError(f"{command[:3]} said {line!r}: {proc.communicate(timeout=10)[1][-3000:]}")
        return proc

    def ticker(self, *extra: str, env: dict | None = None) -> subprocess.Popen:
        return self.start(sys.executable, TICKLOOP, "tick", "--channels", "tests.campaigns.providers",
                          "--idle", "0.05", "--max-seconds", "120", *extra, env=env)

    def publisher(self, queue: str, every: float = 0.3, env: dict | None = None) -> subprocess.Popen:
        return self.start(sys.executable, TICKLOOP, "publish", "--queue", queue, "--every", str(every),
                          "--max-seconds", "120", env=env)

    def celery(self, queue: str, name: str, env: dict | None = None) -> subprocess.Popen:
        return self.start(sys.executable, "-m", "celery", "-A", "tests.campaigns.celeryapp", "worker", "-Q", queue,
                          "-c", "1", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
                          "--without-heartbeat", "-l", "warning", env=env, ready=False)

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.kill()
        for proc in self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


@pytest.fixture
def procs(send):
    env = {**os.environ, "DATABASE_URL": _db_url(), "REDIS_URL": settings.REDIS_URL, "PYTHONPATH": str(ROOT),
           "SIYU_PROVIDER_PAUSE": "0.02"}
    for name in ("SIYU_PROVIDER_TIMEOUT", "SIYU_PROVIDER_TIMEOUT_SHARE"):
        env.pop(name, None)
    running = Procs(env)
    yield running
    running.stop_all()


def _wait_done(connect, campaign_id: int, timeout: float, *, watch: list | None = None) -> dict:
    """Poll until the campaign is done (or the time is up) and return its ledger; while polling,
    "done" with a delivery still pending or sending is recorded in `watch`."""
    deadline = time.monotonic() + timeout
    conn = connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT c.status, (SELECT count(*) FROM campaigns_delivery d WHERE d.campaign_id = c.id "
                    "AND d.state IN ('pending', 'sending')) FROM campaigns_campaign c WHERE c.id = %s", [campaign_id])
                status, open_rows = cursor.fetchone()
                if status == "done" and open_rows and watch is not None:
                    watch.append(f"done with {open_rows} deliveries open")
                if status == "done":
                    break
                time.sleep(0.2)
            found = load.ledger(cursor, campaign_id)
            found["cap_slots"] = load.cap_slots(cursor)
            cursor.execute(f"SELECT count(*) FROM {providers.REPEATS}")
            found["repeats"] = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND attempts > 1",
                           [campaign_id])
            found["retried"] = cursor.fetchone()[0]
            return found
    finally:
        conn.close()


def _main_db():
    s = connection.settings_dict
    return psycopg2.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432)


def _assert_exactly_once(found: dict, *, repeats_allowed: bool = False) -> None:
    wrong = load.problems(found, members=MEMBERS, expected=load.expected_reasons(MEMBERS))
    sent = found["states"].get("sent", 0)
    if found["cap_slots"] != sent:
        wrong.append(f"cap slots counted {found['cap_slots']} for {sent} messages sent")
    if found["repeats"] and not repeats_allowed:
        wrong.append(f"{found['repeats']} deliveries handed to the provider again after it had them")
    assert not wrong, wrong


def _sent(proc: subprocess.Popen) -> int:
    out, _ = proc.communicate(timeout=30)
    return int(out.split("sent=")[1].split()[0]) if "sent=" in out else 0


# --- (a) SIGKILL --------------------------------------------------------------------------------------


def test_workers_killed_mid_send_lose_nothing_and_send_nothing_twice(send, procs):
    rng = random.Random(5)
    lease = ["--lease", "3", "--batch-size", "30"]
    env = {"SIYU_PROVIDER_PAUSE_BEFORE": "0.02", "SIYU_PROVIDER_PAUSE": "0.03"}
    workers = [procs.ticker(*lease, env=env), procs.ticker(*lease, env=env)]
    kills, left_sending = 0, 0
    with contextlib.closing(_main_db()) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            for _ in range(KILLS):
                # kill only while a claim is being answered (a ticker just started may still be importing
                # the project), then at a random moment within it
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s "
                                   "AND state = 'sending'", [send.pk])
                    if cursor.fetchone()[0]:
                        break
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.05, 0.3))
                victim = workers.pop(rng.randrange(len(workers)))
                victim.send_signal(signal.SIGKILL)
                victim.wait(10)
                kills += 1
                cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state = 'sending'",
                               [send.pk])
                left_sending += cursor.fetchone()[0]
                workers.append(procs.ticker(*lease, env=env))
    watch: list[str] = []
    found = _wait_done(_main_db, send.pk, 60, watch=watch)
    assert kills == KILLS and left_sending > 0, "the kills landed between a claim and its answer"
    assert not watch, watch
    _assert_exactly_once(found)


# --- (b) two at once ---------------------------------------------------------------------------------


def test_two_tick_loops_at_once_share_the_send(send, procs):
    first = procs.ticker("--wait-go", "--until-done", str(send.pk), "--batch-size", "50")
    second = procs.ticker("--wait-go", "--until-done", str(send.pk), "--batch-size", "50")
    for proc in (first, second):
        proc.stdin.write("go\n")
        proc.stdin.flush()
    found = _wait_done(_main_db, send.pk, 60)
    shares = [_sent(first), _sent(second)]
    _assert_exactly_once(found)
    assert all(shares) and sum(shares) == found["states"]["sent"], shares


def test_two_beat_schedulers_and_two_celery_workers(send, procs):
    queue = f"siyu-reliab-{uuid.uuid4().hex[:8]}"
    procs.celery(queue, "w1")
    procs.celery(queue, "w2")
    procs.publisher(queue)
    procs.publisher(queue)
    watch: list[str] = []
    found = _wait_done(_main_db, send.pk, 90, watch=watch)
    assert not watch, watch
    _assert_exactly_once(found)


# --- (c) a provider that takes the batch, then times out --------------------------------------------


def test_a_provider_that_times_out_after_accepting_is_settled_as_sent(send, procs):
    env = {"SIYU_PROVIDER_TIMEOUT": "2", "SIYU_PROVIDER_TIMEOUT_SHARE": "0.25"}
    args = ["--lease", "0.8", "--budget", "0.5", "--batch-size", "150"]
    for _ in range(3):  # while one sleeps on a timed-out batch, another settles its lease
        procs.ticker(*args, env=env)
    found = _wait_done(_main_db, send.pk, 90)
    # A batch the provider took but did not answer for is found by the lease settle (sent, once);
    # where the timeout's retry is written first, the resend finds the message by its key.
    _assert_exactly_once(found, repeats_allowed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND error LIKE 'TimeoutError%%'",
                       [send.pk])
        assert cursor.fetchone()[0] == 0, "a timed-out batch's error stays on a sent delivery"


# --- (d) Redis restarted --------------------------------------------------------------------------


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # as a crash: queued messages are gone
            self.proc.wait(10)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_redis_restarted_mid_send(send, procs, tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        env = {"REDIS_URL": redis.url, "SIYU_PROVIDER_PAUSE": "0.05", "SIYU_PROVIDER_BATCH": "20"}
        queue = f"siyu-reliab-{uuid.uuid4().hex[:8]}"
        procs.celery(queue, "w1", env=env)
        procs.publisher(queue, env=env)
        with contextlib.closing(_main_db()) as conn, conn.cursor() as cursor:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the worker took its first ticks through the broker
                cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state = 'sent'",
                               [send.pk])
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.1)
        redis.stop()
        time.sleep(2)
        redis.start()
        found = _wait_done(_main_db, send.pk, 90)
        assert found["states"].get("sent", 0) > 0
        _assert_exactly_once(found)
    finally:
        procs.stop_all()
        redis.stop()


# --- (e) PostgreSQL restarted ----------------------------------------------------------------------


def _pg_dump_for_this_server(embedded_bin: Path) -> str:
    """A pg_dump of the test server's major version (a newer one misreads an older server's column
    options), the embedded one or the one on PATH."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    for candidate in (str(embedded_bin / "pg_dump"), shutil.which("pg_dump")):
        if candidate:
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout
            if version.split()[2].split(".")[0] == str(major):
                return candidate
    pytest.skip(f"no pg_dump of PostgreSQL {major} to copy the test database with")


@pytest.fixture
def own_postgres(tmp_path, monkeypatch):
    """A throwaway cluster of the embedded PostgreSQL (scrm.embedded) in a temp folder, with a copy
    of the test database in it (pg_dump of the test run's database, schema and rows)."""
    from scrm import embedded

    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path / "pg"))
    server = embedded.Postgres()
    server.start()
    try:
        dump = subprocess.run([_pg_dump_for_this_server(server.bin), "--no-owner", "--no-privileges", _db_url()],
                              capture_output=True, text=True, timeout=60, check=True).stdout
        restore = subprocess.run([str(server.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", server.url],
                                 input=dump, capture_output=True, text=True, timeout=60)
        assert restore.returncode == 0, restore.stderr[-2000:]
        yield server
    finally:
        server.stop()


def test_postgres_restarted_mid_send(send, procs, own_postgres):
    server = own_postgres
    env = {"DATABASE_URL": server.url, "SIYU_PROVIDER_PAUSE": "0.1"}

    def connect():
        return psycopg2.connect(server.url)

    workers = [procs.ticker("--lease", "2", "--batch-size", "50", env=env) for _ in range(2)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.closing(connect()) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state = 'sent'",
                           [send.pk])
            if cursor.fetchone()[0]:
                break
        time.sleep(0.1)
    server.stop()  # fast shutdown: every session is cut off mid-statement
    time.sleep(1)
    server.start()
    found = _wait_done(connect, send.pk, 90)
    assert all(w.poll() is None for w in workers), "the workers outlived the restart"
    procs.stop_all()
    errors = "".join(w.stderr.read() for w in workers)
    assert "tick failed" in errors, "the restart landed mid-send"
    _assert_exactly_once(found)


# --- (f) warm shutdown -------------------------------------------------------------------------------


def test_a_celery_worker_warm_shutdown_mid_send_leaves_no_lease(send, procs):
    queue = f"siyu-reliab-{uuid.uuid4().hex[:8]}"
    env = {"SIYU_PROVIDER_PAUSE": "0.05", "SIYU_PROVIDER_BATCH": "20"}  # longer than one tick's budget
    worker = procs.celery(queue, "w1", env=env)
    procs.publisher(queue)
    with contextlib.closing(_main_db()) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state = 'sent'",
                               [send.pk])
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.1)
            worker.send_signal(signal.SIGTERM)  # warm shutdown: the tick in progress finishes
            assert worker.wait(60) == 0
            cursor.execute("SELECT state, count(*) FROM campaigns_delivery WHERE campaign_id = %s GROUP BY 1",
                           [send.pk])
            states = dict(cursor.fetchall())
    assert not states.get("sending"), f"a warm shutdown left leases behind: {states}"
    assert states.get("pending"), f"the shutdown landed mid-send: {states}"
    procs.celery(queue, "w2", env=env)
    found = _wait_done(_main_db, send.pk, 90)
    _assert_exactly_once(found)


# --- the checks can fail ----------------------------------------------------------------------------


def test_the_checks_catch_a_provider_that_cannot_settle(db):
    """A provider that cannot look its sends up, behind a worker that dies after the provider took
    the batch: the expired lease is sent again, and the checks above report it."""
    import datetime as dt

    from campaigns import channels
    from campaigns.services import sending

    providers.register()
    try:
        with connection.cursor() as cursor:
            providers.create_repeats_table(cursor)
        load.seed_members(200, store_ids=load.stores(1))
        load.checked_policy(max_attempts=2)
        campaign, _ = load.start_campaign(name="forgetful", channel=providers.ForgetfulOutbox.code)
        pol = sending.respect.policy()
        claimed, _ = sending.claim(campaign, limit=1000, now=timezone.now(), pol=pol)
        channel = channels.get(campaign.channel)
        ready, _missing = sending._outgoing(campaign, claimed, channel)
        channel.send(ready)  # the provider has them; the worker dies before writing the answer
        for _ in range(3):
            sending.tick(lease=dt.timedelta(0), now_fn=lambda: timezone.now() + dt.timedelta(hours=2))
        with connection.cursor() as cursor:
            found = load.ledger(cursor, campaign.pk)
            found["cap_slots"] = load.cap_slots(cursor)
            cursor.execute(f"SELECT count(*) FROM {providers.REPEATS}")
            found["repeats"] = cursor.fetchone()[0]
        assert found["repeats"] > 0
        assert load.problems(found, members=200, expected=load.expected_reasons(200))
    finally:
        providers.unregister()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {providers.REPEATS}")
