"""Order ingestion at scale: orders per second through the real API batch endpoint, beside the same
work in-process and a raw COPY of the same rows.

    .venv/bin/python tests/bench/orders_bench.py                         # 200,000 orders, 4 clients
    .venv/bin/python tests/bench/orders_bench.py --orders 500000 --clients 6 --workers 3

A command, not part of CI. It creates its own database (bench_siyu_orders by default, dropped and
created again) on the server DATABASE_URL points at (the embedded one by default), migrates it,
seeds stores, staff and members (each with a phone identity), then:

1. builds the request bodies first (1,000 orders each, 2 lines on average; buyers found by phone,
   by member_id, or unknown Tmall buyers kept pending; a guide named on a third), so building JSON
   is not timed;
2. starts gunicorn (sync workers, DEBUG off) on that database, with a Redis database of its own so
   the tasks other apps queue on orders_changed pile up there instead of reaching a running worker;
3. POSTs every body to /api/v1/orders/batch/ from --clients concurrent keep-alive HTTP clients with
   an API key, and checks every answer (all created, no invalid item);
4. POSTs the first bodies again: a retried sync, answered from the existing orders (none created);
5. records fresh copies of some bodies in-process through services.record_orders (no HTTP, no JSON),
   with the CPU it and its PostgreSQL backend use per 1,000 orders;
6. COPYs the same order and line rows into tables shaped like orders_order / orders_orderline
   (same indexes and checks) in one transaction: the floor of writing these rows at all.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
BATCH = 1000
BENCH_REDIS_DB = 13
PRODUCTS = [
    ("DK70", "70% 黑巧克力 100g", "黑巧克力", 39),
    ("TF9", "松露 9 粒", "松露", 128),
    ("GBS", "缤纷礼盒", "礼盒", 198),
    ("MK", "牛奶巧克力 100g", "牛奶巧克力", 35),
    ("HC", "热可可粉 250g", "热可可", 59),
    ("KID", "儿童造型巧克力", "儿童零食", 49),
]


def seed(members: int) -> None:
    from scrm.models import Region, Store, User

    region = Region.objects.create(code="bench", name="Bench")
    stores = Store.objects.bulk_create(
        [Store(code=f"B{i:03d}", name=f"Store {i}", region=region, city="上海") for i in range(N_STORES)]
    )
    User.objects.bulk_create(
        [User(username=f"guide{i}", role="store_staff", store=stores[i % N_STORES]) for i in range(N_STAFF)]
    )
    User.objects.create(username="bench_operator", role="operator")
    execute(
        """INSERT INTO members_member (name, phone, gender, home_store_id, owner_id, source, stage, attributes,
                                       created_at, updated_at)
        SELECT 'm' || g, '+86139' || lpad(g::text, 8, '0'), 'u',
               (SELECT min(id) FROM scrm_store) + g %% %s,
               (SELECT min(id) FROM scrm_user WHERE role = 'store_staff') + g %% %s,
               'other', 'aware', '{}'::jsonb, now(), now()
        FROM generate_series(1, %s) g""",
        [N_STORES, N_STAFF, members],
    )
    execute(
        """INSERT INTO members_identity (member_id, channel, namespace, external_id, created_at)
        SELECT id, 'phone', '', phone, now() FROM members_member"""
    )
    execute("ANALYZE")


def build_items(n: int, members: int, first_member_id: int, prefix: str, rng: random.Random) -> list[dict]:
    now = datetime.now().astimezone()
    items = []
    for k in range(n):
        lines = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            sku, name, category, price = rng.choice(PRODUCTS)
            quantity = rng.choice((1, 1, 1, 2))
            lines.append(
                {
                    "sku": sku,
                    "name": name,
                    "category": category,
                    "quantity": quantity,
                    "amount": f"{price * quantity}.00",
                }
            )
        g = rng.randrange(1, members + 1)
        item = {
            "channel": "pos",
            "external_id": f"{prefix}{k:09d}",
            "store": f"B{g % N_STORES:03d}",
            "placed_at": (now - timedelta(minutes=rng.randrange(0, 525600))).isoformat(timespec="seconds"),
            "total_amount": f"{sum(int(line['amount'][:-3]) for line in lines)}.00",
            "lines": lines,
        }
        kind = rng.random()
        if kind < 0.6:
            item["phone"] = f"139{g:08d}"
        elif kind < 0.8:
            item["member_id"] = first_member_id + g - 1
        else:
            item.update(
                channel="tmall", store=None, buyer={"channel": "tmall", "namespace": "shop", "external_id": f"nick{g}"}
            )
            item.pop("store")
        if rng.random() < 0.33 and "store" in item:
            item["guide"] = f"guide{(g % N_STORES) + N_STORES * rng.randrange(0, N_STAFF // N_STORES)}"
        items.append(item)
    return items


def bench_url(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def redis_url() -> str:
    parts = urlsplit(os.environ["REDIS_URL"])
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={BENCH_REDIS_DB}"
    return urlunsplit(parts._replace(path=f"/{BENCH_REDIS_DB}"))


def start_server(database: str, port: int, workers: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=bench_url(database),
        REDIS_URL=redis_url(),
        DEBUG="false",
        LOG_LEVEL="WARNING",
        API_RATE_LIMIT="1000000/min",
        DB_CONN_MAX_AGE="600",
    )
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "scrm.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("gunicorn did not start")


def post_all(port: int, key: str, bodies: list[bytes], clients: int) -> tuple[float, list[dict], list[float]]:
    """POST every body from `clients` keep-alive connections; (seconds, answers, request latencies)."""
    answers: list[dict | None] = [None] * len(bodies)
    latencies: list[float] = []
    cursor = iter(range(len(bodies)))
    lock = threading.Lock()
    failures = []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            started = time.perf_counter()
            conn.request("POST", "/api/v1/orders/batch/", body=bodies[index], headers=headers)
            response = conn.getresponse()
            data = response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append((response.status, data[:500]))
                return
            answers[index] = json.loads(data)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(f"API answered {failures[0][0]}: {failures[0][1]!r}")
    return seconds, answers, latencies


def raw_copy(items: list[dict]) -> float:
    """COPY the same rows into tables shaped like ours (indexes and checks, no foreign keys)."""
    execute("DROP TABLE IF EXISTS raw_order, raw_orderline")
    execute("CREATE TABLE raw_order (LIKE orders_order INCLUDING ALL)")
    execute("CREATE TABLE raw_orderline (LIKE orders_orderline INCLUDING ALL)")
    orders, lines = io.StringIO(), io.StringIO()
    now = datetime.now().astimezone().isoformat()
    for n, item in enumerate(items, start=1):
        buyer = item.get("buyer") or {}
        orders.write(
            "\t".join(
                [
                    str(n),
                    item["channel"],
                    item["external_id"],
                    buyer.get("channel", ""),
                    buyer.get("namespace", ""),
                    buyer.get("external_id", item.get("phone", "")),
                    item["total_amount"],
                    item["placed_at"],
                    "none",
                    "CNY",
                    "0",
                    "paid",
                    now,
                    now,
                    "",
                ]
            )
            + "\n"
        )
        for line in item["lines"]:
            lines.write(
                "\t".join(
                    [str(n), line["sku"], line["name"], line["category"], str(line["quantity"]), line["amount"], "0"]
                )
                + "\n"
            )
    orders.seek(0)
    lines.seek(0)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.connection.cursor()
        raw.copy_expert(
            "COPY raw_order (id, channel, external_id, buyer_channel, buyer_namespace, buyer_external_id, "
            "total_amount, placed_at, attribution, currency, refunded_amount, status, created_at, updated_at, "
            "referral_code) FROM STDIN",
            orders,
        )
        raw.copy_expert(
            "COPY raw_orderline (order_id, sku, name, category, quantity, amount, refunded_amount) FROM STDIN", lines
        )
    return time.perf_counter() - started


def backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (Linux, server on this host), or None."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database", default="bench_siyu_orders")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from loyalty.orders import services
    from loyalty.orders.models import Order, OrderLine
    from members.models import Member
    from scrm.models import User
    from scrm.services import api_keys

    wall = time.perf_counter()
    load_at_start = os.getloadavg()
    original = connection.settings_dict["NAME"]
    log(f"creating database {args.database} and migrating")
    create_database(args.database)
    log(f"seeding {N_STORES} stores, {N_STAFF} guides, {args.members:,} members with phone identities")
    seed(args.members)
    first_member = Member.objects.order_by("id").values_list("id", flat=True).first()
    key = api_keys.issue(name="bench", scopes=["orders:read", "orders:write"]).plaintext

    log(f"building {args.orders:,} orders in bodies of {BATCH}")
    rng = random.Random(42)
    items = build_items(args.orders, args.members, first_member, "API", rng)
    bodies = [json.dumps({"items": items[i : i + BATCH]}).encode() for i in range(0, len(items), BATCH)]
    lines_total = sum(len(i["lines"]) for i in items)
    log(f"{len(bodies)} bodies, {sum(map(len, bodies)) / len(bodies) / 1024:.0f} KiB each, {lines_total:,} lines")

    server = start_server(args.database, args.port, args.workers)
    try:
        log(f"POST /api/v1/orders/batch/ with {args.clients} clients, gunicorn {args.workers} sync workers")
        api_s, answers, latencies = post_all(args.port, key, bodies, args.clients)
        created = sum(a["created"] for a in answers)
        invalid = sum(a["invalid"] for a in answers)
        assert created == args.orders and invalid == 0, (created, invalid)
        latencies.sort()
        p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95) - 1]
        pending = Order.objects.filter(member__isnull=True).count()
        given = Order.objects.filter(attribution="given").count()
        log(
            f"API: {args.orders / api_s:,.0f} orders/s; {pending:,} pending buyers, {given:,} credited to a named guide"
        )

        resend = bodies[: max(1, len(bodies) // 5)]
        log(f"POST the first {len(resend)} bodies again (a retried sync)")
        again_s, again, _lat = post_all(args.port, key, resend, args.clients)
        assert sum(a["created"] for a in again) == 0
        again_n = sum(a["existing"] for a in again)
    finally:
        server.terminate()
        server.wait(30)

    n_service = min(args.orders, 50_000)
    log(f"in-process: services.record_orders on {n_service:,} fresh orders, one thread")
    fresh = build_items(n_service, args.members, first_member, "SVC", random.Random(42))
    operator = User.objects.get(username="bench_operator")
    backend_before, python_before = backend_cpu(), time.process_time()
    started = time.perf_counter()
    for i in range(0, n_service, BATCH):
        services.record_orders(items=fresh[i : i + BATCH], actor=operator)
    service_s = time.perf_counter() - started
    python_cpu, backend_after = time.process_time() - python_before, backend_cpu()
    assert OrderLine.objects.count() == lines_total + sum(len(i["lines"]) for i in fresh)

    log(f"raw COPY of the same {args.orders:,} orders and {lines_total:,} lines")
    copy_s = raw_copy(items)

    print()
    print(f"{'path':<58} {'orders':>9} {'seconds':>8} {'orders/s':>9}")
    rows = [
        (f"API batch endpoint, {args.clients} clients, {args.workers} gunicorn workers", args.orders, api_s),
        ("API batch endpoint, retried bodies (all already recorded)", again_n, again_s),
        ("services.record_orders in-process, 1 thread", n_service, service_s),
        ("raw COPY of the same rows (one stream, same indexes)", args.orders, copy_s),
    ]
    for label, n, seconds in rows:
        print(f"{label:<58} {n:>9,} {seconds:>8.1f} {n / seconds:>9,.0f}")
    print(f"API request latency (1,000 orders): p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    per_batch = 1000 * BATCH / n_service
    if backend_before is not None and backend_after is not None:
        print(f"in-process CPU per 1,000 orders: Python {python_cpu * per_batch:.0f} ms, "
              f"its PostgreSQL backend {(backend_after - backend_before) * per_batch:.0f} ms")
    ratio = copy_s / api_s
    print(f"API / raw COPY: {ratio:.2f} (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'}); "
          f"target >= 5,000 orders/s through the API: {'met' if args.orders / api_s >= 5000 else 'NOT met'}")
    print("load average (1, 5, 15 min) at start {:.2f} {:.2f} {:.2f}, at end {:.2f} {:.2f} {:.2f}".format(
        *load_at_start, *os.getloadavg()))

    connection.close()
    connection.settings_dict["NAME"] = original
    if not args.keep:
        execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    try:
        import redis

        redis.Redis.from_url(redis_url()).flushdb()  # the tasks queued by the orders_changed hooks
    except Exception as exc:  # noqa: BLE001 - a leftover queue in a bench-only Redis db is harmless
        log(f"could not empty Redis db {BENCH_REDIS_DB}: {exc}")
    log(f"done in {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
