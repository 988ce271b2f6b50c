"""Demo content calendar against the local WeCom server with the demo's staff: this month's posts,
today's handed to WeCom at once and created on the next tick, tasks for its senders; a rerun adds
nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from journeys.calendar import demo, services
from journeys.calendar.models import PlannedPost, PostStaff
from journeys.models import Task
from scrm import demo as org_demo
from wecom.fake import names
from wecom.services import staff

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent_and_uses_the_local_wecom_server(make_corp):
    org_demo.seed(password="demo-pw-test")
    corp = make_corp(staff=names.demo_staff())
    staff.refresh_staff()
    summary = demo.seed()
    assert summary == "calendar: 4 planned posts; 1 handed to the local WeCom server", summary
    assert sorted(PlannedPost.objects.values_list("state", flat=True)) == ["draft", "scheduled", "scheduled",
                                                                           "submitted"]
    today = PlannedPost.objects.get(state="submitted")
    assert PostStaff.objects.filter(post=today, status="pending").exclude(userid="").count() >= 2
    services.tick(now=timezone.now() + dt.timedelta(minutes=5))
    today.refresh_from_db()
    assert today.state == "created" and corp.calls("externalcontact/add_moment_task") == 1
    assert Task.objects.filter(dedupe_key__startswith=f"calendar:{today.pk}:").exists()
    assert demo.seed() == "calendar: already seeded for this month"
    assert PlannedPost.objects.count() == 4
