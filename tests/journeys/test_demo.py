"""Demo staff tasks: today's tasks for the demo stores' clerks, some done, a couple in each pool; two
live journeys with members inside; a rerun adds nothing."""

from __future__ import annotations

import pytest

from journeys import demo
from journeys.models import Journey, JourneyRun, Task
from members.models import Member
from scrm import demo as org_demo

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent():
    org_demo.seed(password="demo-pw-test")
    stores = org_demo.demo_stores()[: demo.STORES]
    Member.objects.bulk_create([Member(name=f"会员{i}", home_store=s) for s in stores for i in range(60)])
    summary = demo.seed()
    assert summary.startswith("tasks: "), summary
    assert Task.objects.filter(state="done").exists() and Task.objects.filter(state="open").exists()
    assert Task.objects.filter(assignee__isnull=True).exists()
    assert all(t.assignee is None or t.assignee.store_id == t.store_id for t in Task.objects.select_related("assignee"))
    assert Journey.objects.filter(state="live").count() == 2
    assert JourneyRun.objects.filter(state="done").exists() and JourneyRun.objects.filter(state="active").exists()
    count, runs = Task.objects.count(), JourneyRun.objects.count()
    assert demo.seed() == "tasks: already seeded for today; journeys: already seeded"
    assert Task.objects.count() == count and JourneyRun.objects.count() == runs
