"""The task settings page in a real Chromium at 390 px and on a desktop: an operator adds a repurchase
cycle, edits it, saves the policy and the rule kinds' priorities; the page never scrolls sideways."""

from __future__ import annotations

import pytest

from journeys.models import RepurchaseCycle, TaskPolicy, TaskPriority
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_an_operator_sets_cycles_and_the_policy(browser, live_server, alice, shot, size):
    ctx, page = login(browser, live_server, "alice", **(PHONE if size == "phone" else DESKTOP))
    page.goto(f"{live_server.url}/tasks/settings/")
    form = page.get_by_test_id("cycle-form")
    form.locator("[name=category]").fill("奶粉")
    form.locator("[name=days]").fill("30")
    page.get_by_test_id("cycle-save").click()
    page.wait_for_load_state("networkidle")
    cycle = RepurchaseCycle.objects.get()
    assert page.get_by_test_id(f"cycle-{cycle.pk}").is_visible()
    page.get_by_test_id(f"edit-{cycle.pk}").click()
    page.wait_for_load_state("networkidle")
    page.get_by_test_id("cycle-form").locator("[name=days]").fill("28")
    page.get_by_test_id("cycle-save").click()
    page.wait_for_load_state("networkidle")
    assert RepurchaseCycle.objects.get().days == 28
    policy = page.get_by_test_id("policy-form")
    policy.locator("[name=daily_cap]").fill("12")
    page.get_by_test_id("policy-save").click()
    page.wait_for_load_state("networkidle")
    assert TaskPolicy.current().daily_cap == 12
    priorities = page.get_by_test_id("priority-form")
    assert priorities.get_by_label("Birthday greeting").input_value() == "high"
    priorities.get_by_label("Birthday greeting").select_option("low")
    page.get_by_test_id("priority-save").click()
    page.wait_for_load_state("networkidle")
    assert TaskPolicy.current().birthday_priority == TaskPriority.LOW
    assert page.get_by_test_id("priority-form").get_by_label("Birthday greeting").input_value() == "low"
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, f"task-settings-{size}")
    ctx.close()
