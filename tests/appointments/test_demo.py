"""Demo appointments: services in the first demo stores and brand-wide, bookings today, tomorrow and last
week's settled visits; a rerun adds nothing."""

from __future__ import annotations

import pytest

from appointments import demo
from appointments.models import Booking, Service
from members.models import Member
from scrm import demo as org_demo

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent():
    org_demo.seed(password="demo-pw-test")
    stores = org_demo.demo_stores()[: demo.STORES]
    Member.objects.bulk_create([Member(name=f"会员{i}", home_store=s) for s in stores for i in range(120)])
    summary = demo.seed()
    assert summary.startswith("appointments:"), summary
    assert Service.objects.filter(store__isnull=True).count() == 1
    assert Booking.objects.filter(state="completed").exclude(notes="").exists()
    assert Booking.objects.filter(state="booked").exists()
    counts = (Service.objects.count(), Booking.objects.count())
    assert demo.seed() == "appointments: already seeded"
    assert (Service.objects.count(), Booking.objects.count()) == counts
