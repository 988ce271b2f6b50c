"""At least once, in order per member, under failure: two real Celery worker processes run the relay
and send ticks while a burst of events is emitted to two subscriptions; one worker is killed with
SIGKILL mid-send (and replaced) and the receiver (webhooks.receiver, its own process, recording to a
file) is killed and restarted mid-burst. Afterwards every subscription has received every event at
least once, every request of one event carried the same id and the identical body (the event's
envelope), and each member's events first reached each subscription in delivery order.

The checks can fail: test_the_checks_catch_a_gap_a_reorder_and_a_changed_body feeds them a record
with each fault.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import connection, transaction

from scrm import events
from scrm.models import Event
from tests.webhooks.conftest import SECRET, TOUCHED
from webhooks.services import sending

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = int(os.environ.get("SIYU_WEBHOOK_PROOF_EVENTS", "10000"))  # x 2 subscriptions: 20,000 deliveries
MEMBERS = max(EVENTS // 10, 1)
CHUNK = 1000  # events per emitting transaction
PATHS = ("/first", "/second")

# A Celery worker of the project with the tests' event types, a short lease and a quick retry, so a
# killed worker's deliveries and the receiver's outage are over within the test's time.
WORKER = """
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
import django
django.setup()
from django.conf import settings
settings.SIYU_WEBHOOK_LEASE_SECONDS = 4
settings.SIYU_WEBHOOK_RETRY_BASE = 1
from tests.webhooks.conftest import register_types
register_types()
from scrm.celery import app
app.worker_main(["worker", "-Q", sys.argv[1], "-n", sys.argv[2] + "@%h", "-P", "solo", "--without-gossip",
                 "--without-mingle", "--without-heartbeat", "-l", "warning"])
"""


def _db_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{s['USER']}@/{s['NAME']}?host={host}&port={s['PORT'] or 5432}"
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def _main_db():
    s = connection.settings_dict
    conn = psycopg2.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432)
    conn.autocommit = True
    return conn


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Procs:
    """The subprocesses a test starts, each ended by its own pid when the test ends."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.running: list[subprocess.Popen] = []

    def start(self, *command: str, ready: str = "") -> subprocess.Popen:
        proc = subprocess.Popen(list(command), env=self.env, cwd=ROOT,
                                stdout=subprocess.PIPE if ready else subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                text=True)
        self.running.append(proc)
        if ready:
            line = proc.stdout.readline().strip()
            if not line.startswith(ready):
                proc.kill()
                raise AssertionError(f"{command[:3]} said {line!r}")
        return proc

    def worker(self, queue: str, name: str) -> subprocess.Popen:
        return self.start(sys.executable, "-c", WORKER, queue, name)

    def receiver(self, port: int, record: Path) -> subprocess.Popen:
        return self.start(sys.executable, "-m", "webhooks.receiver", "--port", str(port), "--secret", SECRET,
                          "--record", str(record), ready="ready")

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.kill()
        for proc in self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


@pytest.fixture
def procs():
    env = {**os.environ, "DATABASE_URL": _db_url(), "REDIS_URL": settings.REDIS_URL, "PYTHONPATH": str(ROOT)}
    running = Procs(env)
    yield running
    running.stop_all()


class Beat:
    """Publishes the relay and send ticks every `every` seconds with an expiry, as beat does."""

    def __init__(self, queue: str, every: float = 0.3) -> None:
        from scrm.celery import app

        self.app, self.queue, self.every = app, queue, every
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            for name in ("webhooks.tasks.relay", "webhooks.tasks.send"):
                self.app.send_task(name, queue=self.queue, expires=self.every * 4, retry=False)
            self.stopping.wait(self.every)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(5)


def _count(cursor, sql: str, params=()) -> int:
    cursor.execute(sql, params)
    return cursor.fetchone()[0]


def _wait_for(cursor, sql: str, at_least: int, timeout: float) -> int:
    deadline, found = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        found = _count(cursor, sql)
        if found >= at_least:
            break
        time.sleep(0.1)
    return found


def read_record(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            rows.append(json.loads(line))
    return rows


def problems(rows: list[dict], expected: dict[int, tuple[int | None, str]], paths=PATHS) -> list[str]:
    """What breaks the promise, given every request the receiver verified and {event id: (member id,
    sha256 of its envelope)}: an event a path never took (2xx), a request whose body differs from the
    event's envelope, a member whose events first reached a path out of id order."""
    wrong = []
    taken = collections.defaultdict(set)
    firsts = collections.defaultdict(list)
    for row in rows:
        path, event_id = row["path"], row["event_id"]
        member, digest = expected.get(event_id, (None, None))
        if digest is None:
            wrong.append(f"{path} got an event that was never emitted: {event_id}")
            continue
        if row["sha256"] != digest:
            wrong.append(f"{path} got a different body for event {event_id} (attempt {row['attempt']})")
        if 200 <= row["status"] < 300 and event_id not in taken[path]:
            taken[path].add(event_id)
            firsts[(path, member)].append(event_id)
    for path in paths:
        missing = set(expected) - taken[path]
        if missing:
            wrong.append(f"{path} never took {len(missing)} events, e.g. {sorted(missing)[:5]}")
    for (path, member), ids in firsts.items():
        if member is not None and ids != sorted(ids):
            wrong.append(f"{path}: member {member}'s events arrived out of order: {ids[:10]}")
    return wrong[:20]


def _expected() -> dict[int, tuple[int | None, str]]:
    return {
        event.pk: (event.member_id, hashlib.sha256(sending.envelope_of(event)).hexdigest())
        for event in Event.objects.filter(type=TOUCHED).iterator(chunk_size=5000)
    }


def _emit_burst(store_id: int) -> None:
    for start in range(0, EVENTS, CHUNK):
        with transaction.atomic():
            events.emit_many(TOUCHED, [(i % MEMBERS + 1, store_id, {"n": i}) for i in range(start, start + CHUNK)])


def test_every_event_reaches_every_subscription_once_at_least_in_order_despite_kills(
        subscribe, store_a, procs, tmp_path):
    port, record = _free_port(), tmp_path / "received.jsonl"
    for path in PATHS:
        subscribe(f"http://127.0.0.1:{port}{path}", name=path, rate=10_000)
    receiver = procs.receiver(port, record)
    queue = f"siyu-webhooks-{uuid.uuid4().hex[:8]}"
    workers = [procs.worker(queue, "w1"), procs.worker(queue, "w2")]
    total = EVENTS * len(PATHS)
    delivered = f"SELECT count(*) FROM {sending.DELIVERY} WHERE state = 'delivered'"
    started = time.monotonic()
    with Beat(queue), contextlib.closing(_main_db()) as conn, conn.cursor() as cursor:
        _emit_burst(store_a.pk)
        # a worker killed mid-send: while deliveries are leased, a quarter of the way in
        _wait_for(cursor, delivered, total // 4, 90)
        leased = _wait_for(cursor, f"SELECT count(*) FROM {sending.DELIVERY} WHERE state = 'pending' "
                                   "AND leased_until > now()", 1, 20)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        workers.append(procs.worker(queue, "w3"))
        # the receiver killed and restarted halfway
        _wait_for(cursor, delivered, total // 2, 90)
        receiver.send_signal(signal.SIGKILL)
        receiver.wait(10)
        time.sleep(3)  # down for a while: until a worker has found it down, at least
        retrying = _wait_for(cursor, f"SELECT count(*) FROM {sending.DELIVERY} WHERE state = 'pending' "
                                     "AND last_status IS NULL AND last_error LIKE 'Connect%%'", 1, 20)
        receiver = procs.receiver(port, record)
        done = _wait_for(cursor, delivered, total, 150)
        cursor.execute(f"SELECT state, count(*) FROM {sending.DELIVERY} GROUP BY 1")
        states = dict(cursor.fetchall())
    elapsed = time.monotonic() - started

    assert done == total, f"{done} of {total} delivered after {elapsed:.0f} s: {states}"
    assert leased, "the kill did not land mid-send"
    assert retrying, "the receiver's outage made no delivery retry"
    rows = read_record(record)
    assert not problems(rows, _expected())
    repeats = len(rows) - total
    print(f"\n{EVENTS} events x {len(PATHS)} subscriptions delivered in {elapsed:.1f} s "  # noqa: T201
          f"({total / elapsed:.0f} deliveries/s), {repeats} requests were retries or repeats")


def test_the_checks_catch_a_gap_a_reorder_and_a_changed_body():
    expected = {1: (7, "a"), 2: (7, "b"), 3: (8, "c")}
    good = [
        {"path": "/x", "event_id": 1, "sha256": "a", "status": 503, "attempt": 1},
        {"path": "/x", "event_id": 1, "sha256": "a", "status": 200, "attempt": 2},
        {"path": "/x", "event_id": 3, "sha256": "c", "status": 200, "attempt": 1},
        {"path": "/x", "event_id": 2, "sha256": "b", "status": 200, "attempt": 1},
        {"path": "/x", "event_id": 2, "sha256": "b", "status": 200, "attempt": 2},
    ]
    assert problems(good, expected, paths=("/x",)) == []
    gap = [r for r in good if r["event_id"] != 3]
    assert any("never took 1 events" in p for p in problems(gap, expected, paths=("/x",)))
    reordered = [good[3], good[0], good[1], good[2]]
    assert any("out of order" in p for p in problems(reordered, expected, paths=("/x",)))
    changed = [*good, {"path": "/x", "event_id": 2, "sha256": "other", "status": 200, "attempt": 3}]
    assert any("different body for event 2" in p for p in problems(changed, expected, paths=("/x",)))
