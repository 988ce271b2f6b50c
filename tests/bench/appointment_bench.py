"""Appointments at brand scale: a month's availability of a service at a store, and bookers racing
for the last slots.

    .venv/bin/python tests/bench/appointment_bench.py --stores 500 --services 20 --staff 2000 \
        --bookers 1000 --slots 100 --sessions 50

Creates its own database (bench_siyu_appointments, dropped first) on the server DATABASE_URL points
at (the embedded one without it), migrates it and builds the brand set-based: `stores` stores open
10:00-21:00 every day, `staff` staff spread over them, each working 10:00-19:00 or 12:00-21:00 and
holding two of five skills, `services` services per store (each needing one skill), and a month of
bookings already held (four a day per staff member, so the slots have holes to find).

1. Availability: appointments.services.availability.slots for 31 days of a random service at a random
   store, `--repeat` times; prints the median, p95 and worst time (the issue asks < 200 ms).
2. The race: a store of its own whose day holds exactly `slots` slots (25 staff, 4 hourly slots
   each, for --slots 100); `bookers` members each book one, `sessions` real PostgreSQL connections
   at once, each booker asking for the free slots and booking one at random, trying again when it
   was just taken. Prints how many were booked, refused and retried, and checks the database holds
   exactly `slots` bookings with no two of a staff member overlapping."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
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
from django.db import connections  # noqa: E402
from django.utils import timezone  # noqa: E402

DB = "bench_siyu_appointments"


def build(stores: int, services: int, staff: int, members: int) -> None:
    log(f"building {stores} stores, {staff} staff, {stores * services} services, {members} members")
    execute("INSERT INTO scrm_region (code, name) VALUES ('east', 'East')")
    execute("""INSERT INTO scrm_store (code, name, region_id, city, address, is_active, created_at)
               SELECT 'S' || i, 'Store ' || i, (SELECT id FROM scrm_region), 'Shanghai', '', true, now()
               FROM generate_series(1, %s) i""", [stores])
    execute("""INSERT INTO scrm_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                   is_active, date_joined, role, store_id, display_name, phone)
               SELECT '!', false, 'staff' || i, '', '', '', false, true, now(), 'store_staff',
                   (SELECT id FROM scrm_store ORDER BY id OFFSET (i %% %s) LIMIT 1), '', ''
               FROM generate_series(1, %s) i""", [stores, staff])
    execute("INSERT INTO appointments_skill (name) SELECT 'skill ' || i FROM generate_series(1, 5) i")
    execute("""WITH ranked AS (SELECT id, row_number() OVER (PARTITION BY store_id ORDER BY id) AS rn FROM scrm_user)
               INSERT INTO appointments_staffskill (staff_id, skill_id)
               SELECT r.id, k.id FROM ranked r JOIN appointments_skill k
                 ON (k.id - (SELECT min(id) FROM appointments_skill)) IN (r.rn % 5, (r.rn + 1) % 5)""")
    execute("""INSERT INTO appointments_openinghours (store_id, weekday, opens, closes)
               SELECT s.id, d, '10:00', '21:00' FROM scrm_store s, generate_series(0, 6) d""")
    execute("""INSERT INTO appointments_workinghours (staff_id, weekday, starts, ends)
               SELECT u.id, d, CASE WHEN u.id % 2 = 0 THEN time '10:00' ELSE time '12:00' END,
                      CASE WHEN u.id % 2 = 0 THEN time '19:00' ELSE time '21:00' END
               FROM scrm_user u, generate_series(0, 6) d""")
    execute("""INSERT INTO appointments_service (store_id, name, description, duration_minutes, price_kind,
                   price_amount, points_price, skill_id, buffer_minutes, min_notice_minutes, max_days_ahead,
                   cancel_hours, place, travel_minutes, follow_up_days, follow_up_text, is_active, created_at)
               SELECT s.id, 'service ' || n, '', 30 + 15 * (n %% 4), 'free', 0, 0,
                   (SELECT min(id) FROM appointments_skill) + n %% 5, 10, 60, 60, 2, 'store', 0, 0, '', true, now()
               FROM scrm_store s, generate_series(1, %s) n""", [services])
    execute("""INSERT INTO members_member (name, phone, gender, home_store_id, source, stage, attributes,
                   created_at, updated_at)
               SELECT 'member ' || i, '', 'u', (SELECT id FROM scrm_store ORDER BY id OFFSET (i %% %s) LIMIT 1),
                   'other', 'aware', '{}', now(), now() FROM generate_series(1, %s) i""", [stores, members])
    log("booking a month ahead: four visits a day per staff member")
    today = timezone.localtime().date()
    execute("""WITH slots AS (
                   SELECT u.id AS staff_id, u.store_id, d, h,
                       (%(today)s::date + d + make_interval(hours => h)) AT TIME ZONE %(tz)s AS at
                   FROM scrm_user u, generate_series(1, 30) d, (VALUES (12), (14), (16), (18)) v(h))
               INSERT INTO appointments_booking (member_id, service_id, staff_id, store_id, starts_at, ends_at,
                   held_from, held_until, state, source, address, member_note, notes, points_paid, created_at,
                   cancelled_by, created_by_label)
               SELECT (SELECT min(id) FROM members_member) + (staff_id * 131 + d * 7 + h) %% %(members)s,
                   (SELECT min(id) FROM appointments_service WHERE store_id = slots.store_id),
                   staff_id, store_id, at, at + interval '45 minutes', at, at + interval '55 minutes',
                   'booked', 'guide', '', '', '', 0, now(), '', ''
               FROM slots""", {"today": today, "tz": str(timezone.get_default_timezone()), "members": members})
    execute("ANALYZE")
    count = execute("SELECT count(*) FROM appointments_booking")[0][0]
    log(f"{count} bookings held")


def time_availability(repeat: int) -> list[float]:
    from appointments.models import Service
    from appointments.services import availability
    from scrm.models import Store

    ids = list(Service.objects.values_list("id", "store_id"))
    rng = random.Random(7)
    timings, found = [], []
    start_day = timezone.localtime().date() + dt.timedelta(days=1)
    for i in range(repeat + 1):
        service_id, store_id = rng.choice(ids)
        service = Service.objects.get(pk=service_id)
        store = Store.objects.get(pk=store_id)
        began = time.perf_counter()
        slots = availability.slots(service=service, store=store, start_day=start_day, days=31)
        if i == 0:  # the first call of the process also loads code and translations: reported apart
            log(f"first call (cold process): {(time.perf_counter() - began) * 1000:.1f} ms")
            continue
        timings.append((time.perf_counter() - began) * 1000)
        found.append(len(slots))
    log(f"availability, 31 days, {repeat} runs: median {statistics.median(timings):.1f} ms, "
        f"p95 {sorted(timings)[int(len(timings) * 0.95) - 1]:.1f} ms, worst {max(timings):.1f} ms; "
        f"{statistics.median(found):.0f} free starts a month (median)")
    return timings


def race(bookers: int, slots: int, sessions: int) -> tuple[int, int, int]:
    from appointments.models import Booking, Service
    from appointments.services import availability, bookings, catalogue
    from members.models import Member
    from scrm.actors import SystemActor
    from scrm.errors import Conflict
    from scrm.models import Region, Role, Store, User

    per_staff = 4
    staff_count = max(1, slots // per_staff)
    store = Store.objects.create(code="RACE", name="Race", region=Region.objects.first(), city="Shanghai")
    actor = SystemActor("bench")
    day = timezone.localtime().date() + dt.timedelta(days=2)
    catalogue.set_opening_hours(actor=actor, store=store, rows=[(w, dt.time(10), dt.time(14)) for w in range(7)])
    for i in range(staff_count):
        user = User.objects.create(username=f"racer{i}", role=Role.STORE_STAFF, store=store)
        catalogue.set_working_hours(actor=actor, store=store, staff_id=user.pk,
                                    rows=[(w, dt.time(10), dt.time(10 + per_staff)) for w in range(7)])
    service = catalogue.save_service(actor=actor, store=store, values={
        "name": "race", "duration_minutes": 60, "min_notice_minutes": 0, "max_days_ahead": 10})
    Member.objects.bulk_create([Member(name=f"booker {i}", home_store=store) for i in range(bookers)])
    member_ids = list(Member.objects.filter(home_store=store).values_list("pk", flat=True))
    availability.STEP_MINUTES = 60  # slots on the hour: the day holds staff x 4 of them
    offered = len(availability.slots(service=service, store=store, start_day=day, days=1)) and sum(
        len(s.staff_ids) for s in availability.slots(service=service, store=store, start_day=day, days=1))
    log(f"race: {bookers} bookers for {offered} slots, {sessions} sessions at once")
    retries = []

    def one(member_id: int) -> bool:
        rng = random.Random(member_id)
        tries = 0
        try:
            while True:
                free = availability.slots(service=Service.objects.get(pk=service.pk), store=store, start_day=day,
                                          days=1)
                if not free:
                    return False
                slot = rng.choice(free)
                try:
                    bookings.book(actor=actor, service=service, store=store, member_id=member_id,
                                  starts_at=slot.starts_at, source="api")
                    return True
                except Conflict as exc:
                    if exc.code != "slot_taken":
                        raise
                    tries += 1
        finally:
            retries.append(tries)
            connections.close_all()

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        results = list(pool.map(one, member_ids))
    took = time.perf_counter() - began
    booked = sum(results)
    held = list(Booking.objects.filter(store=store).order_by("staff_id", "held_from")
                .values_list("staff_id", "held_from", "held_until"))
    overlaps = sum(1 for a, b in zip(held, held[1:], strict=False) if a[0] == b[0] and b[1] < a[2])
    log(f"race: {booked} booked, {len(results) - booked} refused (none left), {sum(retries)} retries after a "
        f"slot was just taken, {len(held)} bookings in the database, {overlaps} overlapping, {took:.1f} s")
    assert booked == offered == len(held) and overlaps == 0, (booked, offered, len(held), overlaps)
    return booked, len(results) - booked, sum(retries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--staff", type=int, default=2000)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--bookers", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=50)
    args = parser.parse_args()
    create_database(DB)
    build(args.stores, args.services, args.staff, args.members)
    time_availability(args.repeat)
    race(args.bookers, args.slots, args.sessions)


if __name__ == "__main__":
    main()
