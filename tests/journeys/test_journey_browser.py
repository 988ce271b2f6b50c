"""The journey editor and page in a real Chromium, at 390 px and on a desktop: the template picker, a
step row showing only its kind's fields (switching kind switches them), saving a journey from a
template, its page with the per-step table; the pages never scroll sideways."""

from __future__ import annotations

import pytest

from journeys.models import Journey
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_make_a_journey_from_a_template(browser, live_server, alice, shot, size):
    ctx, page = login(browser, live_server, "alice", **(PHONE if size == "phone" else DESKTOP))
    page.goto(f"{live_server.url}/journeys/new/")
    page.get_by_test_id("template-conversion").click()
    page.get_by_test_id("journey-form").wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    row = page.get_by_test_id("step-row-1")  # the template's send step
    assert row.locator("[data-kind=send]").is_visible() and not row.locator("[data-kind=wait]").is_visible()
    spare = page.get_by_test_id("step-row-4")
    spare.get_by_test_id("s4-kind").select_option("exit")
    assert not spare.locator("[data-kind=send]").is_visible()
    spare.get_by_test_id("s4-kind").select_option("branch")
    assert spare.locator("[data-kind=branch]").is_visible()
    spare.get_by_test_id("s4-kind").select_option("")
    shot(page, f"journeys-editor-{size}")
    page.get_by_test_id("journey-save").click()
    page.get_by_test_id("journey-steps").wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    journey = Journey.objects.get()
    assert journey.template == "conversion" and journey.steps.count() == 4
    shot(page, f"journeys-page-{size}")
    ctx.close()
