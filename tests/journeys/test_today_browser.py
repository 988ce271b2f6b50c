"""The phone's Today page in a real Chromium at 390 px: a clerk sees her tasks, copies a suggested
message, taps Done with an outcome and the task leaves the list without a page load (recorded done with
that outcome); the page never scrolls sideways."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from journeys.models import Task
from tests.browsing import OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clerk_taps_done_on_the_today_page(browser, live_server, make_task, reachable, carol, shot):
    a, _b = reachable
    now = timezone.now()  # both due already: on today's list at any hour of the day (overdue ones are)
    greet = make_task(member=a[0], kind="birthday", priority=1, due_at=now - dt.timedelta(minutes=20))
    follow = make_task(member=a[1], kind="repurchase_due", params={"category": "奶粉", "days": 30},
                       due_at=now - dt.timedelta(minutes=10))
    ctx, page = login(browser, live_server, "carol", **PHONE)
    page.goto(f"{live_server.url}/m/")
    card = page.get_by_test_id(f"task-{greet.pk}")
    card.wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    assert a[0].name in card.inner_text()
    shot(page, "journeys-today-390")

    card.get_by_test_id("done-no_answer").click()
    card.wait_for(state="detached")
    assert page.get_by_test_id(f"task-{follow.pk}").is_visible()
    assert page.get_by_test_id(f"task-{greet.pk}").count() == 0
    task = Task.objects.get(pk=greet.pk)
    assert (task.state, task.outcome, task.done_by_id) == ("done", "no_answer", carol.pk)
    assert page.evaluate(OVERFLOW) <= 0

    page.reload()
    page.get_by_test_id(f"task-{follow.pk}").wait_for()
    assert page.get_by_test_id(f"task-{greet.pk}").count() == 0
    ctx.close()
