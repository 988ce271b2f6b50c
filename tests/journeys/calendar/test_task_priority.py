"""A planned Moment's "post it" tasks take the brand's priority for confirming WeCom sends
(/tasks/settings/), read when the tasks are made."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from journeys.calendar import services
from journeys.models import Task, TaskPriority
from journeys.services import task_settings

pytestmark = pytest.mark.django_db


def test_a_moments_tasks_take_the_brands_priority(corp, linked, plan, alice, bob):
    corp.corp.moments.running_polls = 0
    task_settings.update_priorities(actor=alice, values={"confirm_wecom_send": "low"})
    post = plan(bob)
    services.tick()
    services.tick(now=timezone.now() + dt.timedelta(seconds=400))
    post.refresh_from_db()
    assert post.state == "created"
    tasks = Task.objects.filter(dedupe_key__startswith=f"calendar:{post.pk}:")
    assert tasks.count() == 2 and {t.priority for t in tasks} == {TaskPriority.LOW}
