"""Recurring campaigns and editing in a real Chromium, at 1280 px and at 390 px: an operator writes a
weekly campaign (a weekday is asked for first), the campaign's page words its rule and its first
runs; it is approved, then edited (the page says the approval goes), saved back to draft; a test is
sent to a staff member from the campaign's page and listed there. No page scrolls sideways."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_weekly_campaign_is_written_edited_and_test_sent(browser, live_server, alice, carol, everyone, audience,
                                                          policy, shot, size):
    ctx, page = login(browser, live_server, "alice", **(DESKTOP if size == "desktop" else PHONE))
    page.goto(f"{live_server.url}/campaigns/new/")
    page.fill("#id_name", "Weekly tip")
    page.select_option("#id_segment", str(everyone.pk))
    page.fill("#id_content", "Hi {name}, this week's tasting is on.")
    page.select_option("#id_schedule", "repeat")
    page.select_option("#id_repeat", "weekly")
    page.fill("#id_repeat_time", "09:30")
    assert page.evaluate(OVERFLOW) <= 0
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Choose at least one weekday" in page.get_by_test_id("field-repeat_weekdays").inner_text()
    page.check("input[name=repeat_weekdays][value='0']")
    page.check("input[name=repeat_weekdays][value='3']")
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, f"campaigns-weekly-form-{size}")
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    campaign = Campaign.objects.get()
    assert page.url.endswith(f"/campaigns/{campaign.pk}/")
    assert campaign.repeat == "weekly" and campaign.repeat_weekdays == [0, 3]
    rule = page.get_by_test_id("series-rule").inner_text()
    assert "Every week on Monday, Thursday at 09:30" in rule and "Asia/Shanghai" in rule
    assert page.get_by_test_id("series-next").inner_text().count(":") >= 3  # its first three runs
    assert page.evaluate(OVERFLOW) <= 0

    page.get_by_test_id("action-approve").locator("button").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("campaign-status").inner_text() == "Approved"
    page.get_by_test_id("campaign-edit-link").click()
    page.wait_for_load_state("networkidle")
    assert "clears the approval" in page.get_by_test_id("approval-notice").inner_text()
    assert page.locator("input[name=repeat_weekdays][value='3']").is_checked()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, f"campaigns-edit-{size}")
    page.fill("#id_content", "Hi {name}, the tasting moves to 3 pm.")
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "is a draft again" in page.content()
    assert page.get_by_test_id("campaign-status").inner_text() == "Draft"
    assert "3 pm" in page.get_by_test_id("content-text").inner_text()

    page.check(f"[data-testid=test-send-form] input[value='{carol.pk}']")
    page.get_by_test_id("test-send-button").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=test-send-list] [data-outcome=recorded]").count() == 1
    assert "Carol" in page.get_by_test_id("test-send-list").inner_text()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, f"campaigns-series-detail-{size}")
    ctx.close()
