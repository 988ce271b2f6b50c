"""No double booking under real concurrency: many PostgreSQL sessions (one per thread) book the same
few slots at once, committed transactions, no mocks. The exclusion constraint decides; the service
turns its refusal into `slot_taken` and the booker tries another free slot until none is left."""

from __future__ import annotations

import datetime as dt
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.utils import timezone

from appointments.models import Booking
from appointments.services import availability, bookings, catalogue
from members.models import Member
from scrm.actors import SystemActor
from scrm.errors import Conflict

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = SystemActor("test:race")


def race(*, service, store, member_ids: list[int], day: dt.date, threads: int) -> tuple[int, int]:
    """Every member books one free slot of `day`, all at once; returns (booked, refused)."""

    def one(member_id: int):
        try:
            for _attempt in range(50):
                free = availability.slots(service=service, store=store, start_day=day, days=1)
                if not free:
                    return False
                slot = random.choice(free)
                try:
                    bookings.book(actor=ACTOR, service=service, store=store, member_id=member_id,
                                  starts_at=slot.starts_at, source="api")
                    return True
                except Conflict as exc:
                    if exc.code != "slot_taken":
                        raise
            return False
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(one, member_ids))
    return sum(results), len(results) - sum(results)


def test_thirty_bookers_fill_five_slots_exactly(store_a, bob, carol):
    week = range(7)
    catalogue.set_opening_hours(actor=bob, store=store_a, rows=[(w, dt.time(10), dt.time(15)) for w in week])
    catalogue.set_working_hours(actor=bob, store=store_a, staff_id=carol.pk,
                                rows=[(w, dt.time(10), dt.time(15)) for w in week])
    service = catalogue.save_service(actor=bob, store=store_a, values={
        "name": "婴儿游泳", "duration_minutes": 60, "min_notice_minutes": 0, "max_days_ahead": 10})
    Member.objects.bulk_create([Member(name=f"妈妈{i}", home_store=store_a) for i in range(30)])
    member_ids = list(Member.objects.filter(home_store=store_a).values_list("pk", flat=True))
    day = timezone.localtime().date() + dt.timedelta(days=2)
    # On a 15-minute grid the free starts overlap; book on the hour only, so the day holds five.
    step, availability.STEP_MINUTES = availability.STEP_MINUTES, 60
    try:
        booked, refused = race(service=service, store=store_a, member_ids=member_ids, day=day, threads=30)
    finally:
        availability.STEP_MINUTES = step
    held = list(Booking.objects.filter(staff=carol).order_by("starts_at").values_list("held_from", "held_until"))
    assert booked == 5 and refused == 25
    assert len(held) == 5
    assert all(a[1] <= b[0] for a, b in zip(held, held[1:], strict=False))  # none overlaps the next
