"""Sign-ups racing for seats: the event row's conditional UPDATE (what communities.services.signups
does) against SELECT ... FOR UPDATE then decide in Python, each with many sessions at once.

    .venv/bin/python tests/bench/communities_signup_bench.py --signups 10000 --seats 500 --sessions 32

Creates its own database (bench_siyu_communities, dropped first) on the server DATABASE_URL points
at, migrates it, makes the members and one event per strategy, and runs the same transaction shape
both ways (take a seat or the next waitlist position, insert the sign-up, commit). Each run checks
exactly `seats` are seated and the waitlist positions are 1..n with no gap."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

from scrm import embedded  # noqa: E402

embedded.prepare()
django.setup()

from benchdb import create_database, execute, log  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

EVENT, SIGNUP = "communities_event", "communities_signup"


def _insert(cursor, event_id, member_id, state, position, n):
    cursor.execute(
        f"INSERT INTO {SIGNUP} (event_id, member_id, store_id, state, position, code, source, created_at, cancelled_by)"
        " VALUES (%s, %s, NULL, %s, %s, %s, 'api', now(), '')",
        [event_id, member_id, state, position, f"B{event_id}-{n}"])


def counter(event_id, member_id, n):
    with transaction.atomic(), connection.cursor() as cursor:
        while True:
            cursor.execute(f"UPDATE {EVENT} SET seats_taken = seats_taken + 1 WHERE id = %s "
                           "AND seats_taken < capacity RETURNING id", [event_id])
            if cursor.fetchone():
                state, position = "confirmed", None
                break
            cursor.execute(f"UPDATE {EVENT} SET waitlist_seq = waitlist_seq + 1 WHERE id = %s "
                           "AND seats_taken >= capacity RETURNING waitlist_seq", [event_id])
            row = cursor.fetchone()
            if row:
                state, position = "waitlisted", row[0]
                break
        _insert(cursor, event_id, member_id, state, position, n)


def row_lock(event_id, member_id, n):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT seats_taken, capacity, waitlist_seq FROM {EVENT} WHERE id = %s FOR UPDATE",
                       [event_id])
        seats, capacity, seq = cursor.fetchone()
        if seats < capacity:
            cursor.execute(f"UPDATE {EVENT} SET seats_taken = seats_taken + 1 WHERE id = %s", [event_id])
            state, position = "confirmed", None
        else:
            cursor.execute(f"UPDATE {EVENT} SET waitlist_seq = %s WHERE id = %s", [seq + 1, event_id])
            state, position = "waitlisted", seq + 1
        _insert(cursor, event_id, member_id, state, position, n)


def run(strategy, event_id, member_ids, sessions):
    start = threading.Barrier(sessions)

    def work(chunk):
        try:
            start.wait()
            for n, member_id in chunk:
                strategy(event_id, member_id, n)
        finally:
            connections.close_all()

    numbered = list(enumerate(member_ids))
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        list(pool.map(work, [numbered[i::sessions] for i in range(sessions)]))
    return time.perf_counter() - began


def check(event_id, signups, seats):
    seated = execute(f"SELECT count(*) FROM {SIGNUP} WHERE event_id = %s AND state = 'confirmed'", [event_id])[0][0]
    positions = [r[0] for r in execute(f"SELECT position FROM {SIGNUP} WHERE event_id = %s AND state = 'waitlisted' "
                                       "ORDER BY position", [event_id])]
    assert seated == seats, (seated, seats)
    assert positions == list(range(1, signups - seats + 1)), "waitlist positions have a gap or a repeat"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=10_000)
    parser.add_argument("--seats", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--database", default="bench_siyu_communities")
    args = parser.parse_args()
    log(f"database {args.database}: creating and migrating")
    create_database(args.database)
    execute("INSERT INTO scrm_region (code, name) VALUES ('b', 'bench')")
    execute("INSERT INTO members_member (name, phone, gender, source, stage, attributes, created_at, updated_at) "
            "SELECT 'm' || g, '', 'u', 'other', 'aware', '{}', now(), now() FROM generate_series(1, %s) g",
            [args.signups])
    member_ids = [r[0] for r in execute("SELECT id FROM members_member ORDER BY id")]
    now = timezone.now()
    for name, strategy in (("conditional UPDATE", counter), ("SELECT ... FOR UPDATE", row_lock)):
        event_id = execute(
            f"INSERT INTO {EVENT} (title, description, place, starts_at, ends_at, capacity, seats_taken, waitlist_seq,"
            " offer_minutes, walk_ins_allowed, status, created_by_label, created_at, updated_at) VALUES "
            "(%s, '', 'x', %s, %s, %s, 0, 0, 120, true, 'open', '', now(), now()) RETURNING id",
            [name, now + dt.timedelta(days=1), now + dt.timedelta(days=1, hours=2), args.seats])[0][0]
        seconds = run(strategy, event_id, member_ids, args.sessions)
        check(event_id, args.signups, args.seats)
        log(f"{name}: {args.signups} sign-ups from {args.sessions} sessions for {args.seats} seats in "
            f"{seconds:.2f} s ({args.signups / seconds:.0f} a second); exactly {args.seats} seated, queue 1.."
            f"{args.signups - args.seats}")


if __name__ == "__main__":
    main()
