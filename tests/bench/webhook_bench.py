"""Webhook deliveries at scale: a burst of events fanned out and delivered to the local receiver by
worker processes running the real relay and sender, beside the floor (the same receiver posted to by
the same pooled httpx client with the same concurrency per process, no database), in the same run.

    .venv/bin/python tests/bench/webhook_bench.py                              # 100,000 events
    .venv/bin/python tests/bench/webhook_bench.py --events 20000 --workers 2 --subscriptions 2

A command, not part of CI. It creates its own database (bench_siyu_webhooks, dropped and created
again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. starts the receiver (python -m webhooks.receiver) on a free port and makes the subscriptions
   (one integration key, each subscription its own path, no rate limit to speak of);
2. emits the events in one set-based statement (scrm.events.emit_sql), across --members members;
3. starts --workers processes, each looping webhooks.services.relay.run and sending.run, lets them go
   at once and times until every delivery is delivered: deliveries/s and events/s;
4. the floor: as many requests as deliveries, split over the same number of processes, each posting
   prepared signed envelopes through sending.client() from sending.pool()'s threads (the sender's
   own client and concurrency), and (--async-requests of them) through one httpx.AsyncClient per
   process with the same concurrency, to see which of the two is faster here;
5. checks with the receiver that every subscription took every event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

from scrm import embedded  # noqa: E402

embedded.prepare()
django.setup()

from benchdb import create_database, execute, log  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils.translation import gettext_lazy as _  # noqa: E402

from scrm import events  # noqa: E402

DATABASE = "bench_siyu_webhooks"
TYPE = "bench.member_touched"
SECRET = "whsec_bench_secret_0000000000000000000"


def register_type() -> None:
    events.register_type(TYPE, _("A member was touched (benchmark)"), resource="members")


def database_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{s['USER']}@/{s['NAME']}?host={host}&port={s['PORT'] or 5432}"
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- inside a worker process ---------------------------------------------------------------------------


def work(args) -> int:
    """Relay and send until nothing is left to do for a second."""
    register_type()
    from django.db import close_old_connections

    from webhooks.services import relay, sending

    print("ready", flush=True)
    sys.stdin.readline()
    deadline, idle_since, delivered = time.monotonic() + args.max_seconds, None, 0
    while time.monotonic() < deadline:
        relayed = relay.relay()
        done = sending.send_due()
        delivered += done.delivered
        close_old_connections()
        if relayed.events or done.claimed:
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > 1.0 and not relay.unrelayed() and not _pending():
            break
        time.sleep(0.02)
    print(f"done delivered={delivered}", flush=True)
    return 0


def _pending() -> int:
    from webhooks.services import sending

    return execute(f"SELECT count(*) FROM {sending.DELIVERY} WHERE state = 'pending'")[0][0]


def floor_work(args) -> int:
    """Post --requests prepared envelopes to --url through the sender's client and threads (--mode
    threads) or through an httpx.AsyncClient with the same concurrency (--mode async)."""
    from django.utils import timezone

    from webhooks.services import sending

    now = timezone.now()
    prepared = []
    for n in range(args.requests):
        event_id = args.first + n
        body = sending.envelope(event_id=event_id, event_type=TYPE, occurred_at=now, member_id=n % 1000 + 1,
                                store_id=1, data={"n": n})
        prepared.append((body, sending.headers(event_id=event_id, event_type=TYPE, attempt=1, body=body,
                                               secrets=(SECRET,))))
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    if args.mode == "threads":
        futures = [sending.pool().submit(sending.post, args.url, body, headers) for body, headers in prepared]
        ok = sum(1 for future in futures if future.result().status == 200)
    else:
        ok = asyncio.run(_post_async(args.url, prepared, sending.concurrency()))
    print(f"done ok={ok} seconds={time.perf_counter() - started:.3f}", flush=True)
    return 0


async def _post_async(url: str, prepared: list, concurrency: int) -> int:
    import httpx

    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False,
                                 limits=httpx.Limits(max_connections=concurrency * 2)) as client:

        async def one(body, headers) -> bool:
            async with limit:
                response = await client.post(url, content=body, headers=headers)
                return response.status_code == 200

        return sum(await asyncio.gather(*(one(body, headers) for body, headers in prepared)))


# --- the run -------------------------------------------------------------------------------------------


def _start(command: list[str], env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("ready"), f"{command[:3]} said {line!r}"
    return proc


def _go(procs: list[subprocess.Popen]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate()[0].strip() for proc in procs]
    return time.perf_counter() - started, outputs


def _summary(base: str) -> dict:
    with urllib.request.urlopen(base + "/_received", timeout=10) as answer:  # noqa: S310 - the local receiver
        return json.loads(answer.read())


def run(args) -> None:
    from scrm.services import api_keys
    from webhooks.models import Subscription
    from webhooks.services import sending

    register_type()
    create_database(args.database)
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
    port = _free_port()
    receiver = _start([sys.executable, "-m", "webhooks.receiver", "--port", str(port), "--secret", SECRET], env)
    base = f"http://127.0.0.1:{port}"
    try:
        store_id = _store()
        key = api_keys.issue(name="bench", scopes=["members:read"]).api_key
        for n in range(args.subscriptions):
            Subscription.objects.create(api_key=key, name=f"bench {n}", url=f"{base}/s{n}", event_types=[TYPE],
                                        secret=SECRET, rate=10_000)
        started = time.perf_counter()
        events.emit_sql(TYPE, "SELECT g %% %s + 1, %s::bigint, jsonb_build_object('n', g) "
                              "FROM generate_series(1, %s) AS g", [args.members, store_id, args.events])
        log(f"emitted {args.events:,} events for {args.members:,} members in {time.perf_counter() - started:.2f} s")
        connections.close_all()
        bench_self = str(Path(__file__).resolve())
        workers = [_start([sys.executable, bench_self, "--worker", "--max-seconds", str(args.max_seconds)], env)
                   for _ in range(args.workers)]
        elapsed, outputs = _go(workers)
        total = args.events * args.subscriptions
        states = dict(execute(f"SELECT state, count(*) FROM {sending.DELIVERY} GROUP BY 1"))
        delivered = states.get("delivered", 0)
        took = _summary(base)
        latency = execute(f"SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY latency_ms) "
                          f"FROM {sending.DELIVERY} WHERE state = 'delivered'")[0][0]
        log(f"delivered {delivered:,} of {total:,} deliveries ({args.events:,} events x {args.subscriptions} "
            f"subscriptions) with {args.workers} worker(s) in {elapsed:.2f} s = {delivered / elapsed:,.0f} "
            f"deliveries/s ({args.events / elapsed:,.0f} events/s); states {states}; workers: {outputs}")
        log(f"  event to delivery latency: median {latency[0] / 1000:.1f} s, p99 {latency[1] / 1000:.1f} s "
            "(the burst waits its turn)")
        log(f"  receiver: {took['events']:,} distinct (subscription, event) taken, {took['requests']:,} requests, "
            f"{took['refused']} refused; " + ("OK" if took["events"] == total and delivered == total else "PROBLEMS"))
        for mode, requests in (("threads", total), ("async", min(total, args.async_requests))):
            per = -(-requests // args.workers)
            floor = [_start([sys.executable, bench_self, "--floor", "--mode", mode, "--url", f"{base}/floor-{mode}",
                             "--requests", str(per), "--first", str(n * per + 1)], env)
                     for n in range(args.workers)]
            floor_s, outputs = _go(floor)
            ok = sum(int(out.split("ok=")[1].split()[0]) for out in outputs)
            log(f"floor ({mode}, {sending.concurrency()} at once per process, {args.workers} process(es)): "
                f"{ok:,} requests in {floor_s:.2f} s = {ok / floor_s:,.0f} requests/s; the engine reaches "
                f"{(delivered / elapsed) / (ok / floor_s):.0%} of it")
    finally:
        receiver.kill()
        receiver.wait(10)


def _store() -> int:
    from scrm.models import Region, Store

    region = Region.objects.create(code="bench", name="bench")
    return Store.objects.create(code="BENCH01", name="bench", region=region, city="bench").pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--subscriptions", type=int, default=1)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--async-requests", type=int, default=5000,
                        help="requests of the async floor (it is the slower one here)")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--max-seconds", type=float, default=3600)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="threads", choices=("threads", "async"), help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.exit(work(args))
    if args.floor:
        sys.exit(floor_work(args))
    run(args)


if __name__ == "__main__":
    main()
