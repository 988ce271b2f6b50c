"""Load test of the web app as `siyu.py up` serves it (gunicorn), on loopback only, bounded.

    .venv/bin/python tests/load/run.py                      # 20 users for 30 s, 2,000 demo members
    .venv/bin/python tests/load/run.py --users 50 --seconds 60 --members 20000 --web-workers 4

It creates its own database (`load_siyu`, dropped first) on the server DATABASE_URL points at (the
embedded one by default), seeds the demo brand, issues a brand-wide key, starts gunicorn on a free
127.0.0.1 port and runs locust headless against it: member lookup by phone, member detail and order
ingestion. It prints requests per second, median, p95 and p99 and failures per request, then
stops everything and drops the database (`--keep` keeps it)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

MAX_USERS, MAX_SECONDS = 200, 300


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(db: dict) -> str:
    host = db.get("HOST") or "localhost"
    port = db.get("PORT") or 5432
    if host.startswith("/"):
        return f"postgres://{db['USER']}@/{db['NAME']}?host={host}&port={port}"
    return f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{port}/{db['NAME']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--database", default="load_siyu")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.users <= MAX_USERS or not 1 <= args.seconds <= MAX_SECONDS:
        parser.error(f"--users must be 1..{MAX_USERS} and --seconds 1..{MAX_SECONDS}")

    from scrm import embedded

    embedded.prepare()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from scrm import demo
    from scrm.management.commands.up import web_command

    log(f"database {args.database}: creating, migrating, seeding {args.members} demo members")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{args.database}"')
    connection.close()
    connection.settings_dict["NAME"] = args.database
    call_command("migrate", verbosity=0)
    demo.seed()
    demo.seed_apps(members=args.members)

    from members.models import Identity
    from scrm.models import Store
    from scrm.services import api_keys

    phones = list(Identity.objects.filter(channel="phone").values_list("external_id", flat=True)[:500])
    member_ids = list(Identity.objects.filter(channel="phone").values_list("member_id", flat=True)[:500])
    store = Store.objects.order_by("code").values_list("code", flat=True).first()
    issued = api_keys.issue(name="load test", scopes=["members:read", "orders:read", "orders:write"])
    db_url = database_url(connection.settings_dict)
    connection.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "false",
        "API_RATE_LIMIT": "1000000/min",
    }
    web = subprocess.Popen(
        web_command(sys.executable, "127.0.0.1", port, workers=args.web_workers, threads=args.web_threads),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                if urllib.request.urlopen(f"{base}/healthz", timeout=5).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            log("gunicorn did not come up")
            return 1
        log(
            f"gunicorn on {base} ({args.web_workers} workers × {args.web_threads} threads); "
            f"locust: {args.users} users for {args.seconds} s"
        )
        with tempfile.TemporaryDirectory() as tmp:
            prefix = os.path.join(tmp, "stats")
            locust_env = {
                **os.environ,
                "SIYU_LOAD_KEY": issued.plaintext,
                "SIYU_LOAD_PHONES": json.dumps(phones),
                "SIYU_LOAD_MEMBER_IDS": json.dumps(member_ids),
                "SIYU_LOAD_STORE": store,
            }
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(Path(__file__).with_name("locustfile.py")),
                    "--headless",
                    "-u",
                    str(args.users),
                    "-r",
                    str(args.users),
                    "-t",
                    f"{args.seconds}s",
                    "--host",
                    base,
                    "--csv",
                    prefix,
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                    "--stop-timeout",
                    "10",
                ],
                env=locust_env,
                timeout=args.seconds + 120,
                check=False,
            )
            with open(f"{prefix}_stats.csv", newline="") as handle:
                rows = list(csv.DictReader(handle))
        print()
        print(f"{'request':<28} {'requests':>9} {'failures':>9} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
        for row in rows:
            print(
                f"{row['Name']:<28} {row['Request Count']:>9} {row['Failure Count']:>9} "
                f"{float(row['Requests/s']):>8.1f} {row['50%']:>7} {row['95%']:>7} {row['99%']:>7}"
            )
        return 0
    finally:
        web.terminate()
        web.wait(timeout=30)
        if not args.keep:
            from django.db import connections

            connection.settings_dict["NAME"] = "postgres"
            connections.close_all()
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
