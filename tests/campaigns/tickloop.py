"""A worker process running the campaigns tick in a loop, as a Celery worker under beat would, and a
beat-like publisher of the tick task. Started as subprocesses by the campaign benchmark and the
reliability tests (which kill, stop and restart them and the servers under them).

    python tests/campaigns/tickloop.py tick [--lease 2] [--until-done ID] [--wait-go] [--batch-size N]
    python tests/campaigns/tickloop.py publish --queue Q [--every 0.5]

The database and broker come from DATABASE_URL and REDIS_URL. A tick that fails (the database went
away mid-statement) is logged and the loop goes on with a new connection, as a Celery worker does
with the next tick; the loop ends when the campaign is done, after --max-seconds, or on SIGTERM
after the tick in progress."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")


def _setup(channel_module: str | None) -> None:
    import django

    django.setup()
    if channel_module:
        import importlib

        importlib.import_module(channel_module).register()


def tick_loop(args) -> int:
    _setup(args.channels)
    from django.db import close_old_connections, connection, connections

    from campaigns import channels
    from campaigns.services import sending

    if os.environ.get("SIYU_TICKLOOP_NO_SETTLE"):  # to show the reliability tests fail without it
        sending.settle_leases = lambda **kwargs: None
    if args.batch_size:
        for code in channels.codes():
            with contextlib.suppress(AttributeError):  # a channel whose batch is its provider's limit
                channels.get(code).batch_size = args.batch_size
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print("ready", flush=True)
    if args.wait_go:
        sys.stdin.readline()
    deadline = time.monotonic() + args.max_seconds
    lease = dt.timedelta(seconds=args.lease) if args.lease is not None else sending.LEASE
    sent = ticks = errors = deferred = 0
    while not stopping and time.monotonic() < deadline:
        try:
            report = sending.tick(budget=args.budget, lease=lease)
            ticks += 1
            sent += report.sent
            deferred += report.deferred
            if args.until_done:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT status FROM campaigns_campaign WHERE id = %s", [args.until_done])
                    if cursor.fetchone()[0] in ("done", "cancelled"):
                        break
            if not report.claimed and not report.settled:
                time.sleep(args.idle)
        except Exception as exc:  # noqa: BLE001 - a failed tick is followed by the next, as under beat
            errors += 1
            print(f"tick failed: {type(exc).__name__}: {str(exc).strip()[:200]}", file=sys.stderr, flush=True)
            connections.close_all()
            time.sleep(0.2)
        finally:
            close_old_connections()
    print(f"done sent={sent} ticks={ticks} errors={errors} deferred={deferred}", flush=True)
    return 0


def publish_loop(args) -> int:
    """Send the tick task every `every` seconds with an expiry, as beat does (errors while the broker
    is away are logged and the next beat tries again)."""
    _setup(None)
    from scrm.celery import app

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print("ready", flush=True)
    deadline = time.monotonic() + args.max_seconds
    while not stopping and time.monotonic() < deadline:
        try:
            app.send_task("campaigns.tasks.tick", queue=args.queue, expires=args.every * 4,
                          retry=False)
        except Exception as exc:  # noqa: BLE001 - the broker is away: the next beat tries again
            print(f"publish failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        time.sleep(args.every)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    tick = sub.add_parser("tick")
    tick.add_argument("--lease", type=float, default=None, help="seconds (default: the engine's lease)")
    tick.add_argument("--budget", type=float, default=8.0)
    tick.add_argument("--until-done", type=int, default=0, help="stop once this campaign is done")
    tick.add_argument("--wait-go", action="store_true", help="print ready, then wait for a line on stdin")
    tick.add_argument("--batch-size", type=int, default=0, help="deliveries per channel call")
    tick.add_argument("--channels", default="", help="a module whose register() adds channels")
    tick.add_argument("--idle", type=float, default=0.2, help="seconds to wait when a tick found nothing")
    tick.add_argument("--max-seconds", type=float, default=600)
    publish = sub.add_parser("publish")
    publish.add_argument("--queue", required=True)
    publish.add_argument("--every", type=float, default=0.5)
    publish.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    return tick_loop(args) if args.mode == "tick" else publish_loop(args)


if __name__ == "__main__":
    sys.exit(main())
