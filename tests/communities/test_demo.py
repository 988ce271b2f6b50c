"""Demo communities: each demo store's clubs with events tonight (some checked in), a full weekend
event with a waitlist and a past one; a rerun adds nothing."""

from __future__ import annotations

import pytest

from communities import demo
from communities.models import CheckIn, Community, Event, SignUp
from members.models import Member
from scrm import demo as org_demo

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent():
    org_demo.seed(password="demo-pw-test")
    stores = org_demo.demo_stores()[: demo.STORES]
    Member.objects.bulk_create([Member(name=f"会员{i}", home_store=s) for s in stores for i in range(120)])
    summary = demo.seed()
    assert summary.startswith(f"communities: {3 * len(stores)} communities"), summary
    assert Community.objects.count() == 3 * len(stores)
    assert SignUp.objects.filter(state="waitlisted").exists()
    assert CheckIn.objects.exists()
    assert all(e.seats_taken <= e.capacity for e in Event.objects.all())
    counts = (Community.objects.count(), Event.objects.count(), SignUp.objects.count())
    assert demo.seed() == "communities: already seeded"
    assert (Community.objects.count(), Event.objects.count(), SignUp.objects.count()) == counts
