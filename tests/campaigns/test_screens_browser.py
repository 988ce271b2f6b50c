"""The campaign screens in a real Chromium: an operator goes from the list to a new draft (an unknown
personal field is refused under the field first), approves it, sends it through the confirmation, and
the campaign's page follows the send by itself until it is done; the list, the form and the campaign's
page fit 1280 px and 390 px without sideways scrolling."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from campaigns.services import sending
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_writes_approves_and_sends_a_campaign(browser, live_server, alice, everyone, audience, policy,
                                                         shot):
    ctx, page = login(browser, live_server, "alice", **DESKTOP)
    page.click("nav.sidebar a[href='/campaigns/']")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(OVERFLOW) <= 0
    page.get_by_test_id("new-campaign").click()
    page.wait_for_load_state("networkidle")
    page.fill("#id_name", "Spring tasting")
    page.select_option("#id_segment", str(everyone.pk))
    page.fill("#id_content", "Hi {nickname}")
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Unknown personal field(s): {nickname}" in page.get_by_test_id("field-content").inner_text()
    page.fill("#id_content", "Hi {name}, as a {tier} member you have {points} points.")
    shot(page, "campaigns-form-1280")
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    campaign = Campaign.objects.get()
    assert page.url.endswith(f"/campaigns/{campaign.pk}/")
    assert page.get_by_test_id("campaign-status").inner_text() == "Draft"

    page.get_by_test_id("action-approve").locator("button").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("campaign-status").inner_text() == "Approved"
    page.get_by_test_id("action-send").locator("button").click()
    dialog = page.locator("#confirm-dialog")
    assert dialog.is_visible() and "Send this campaign?" in dialog.inner_text()
    with page.expect_navigation():
        dialog.locator("button[value=ok]").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("campaign-live").get_attribute("data-status") == "sending"
    assert page.get_by_test_id("count-pending").inner_text().endswith("5")

    sending.tick()  # the worker's tick; the page finds the send done on its next poll
    page.wait_for_selector("[data-testid=campaign-live][data-status=done]", timeout=15_000)
    assert page.get_by_test_id("count-sent").inner_text().endswith("5")
    assert page.get_by_test_id("action-pause").count() == 0  # the last poll took the actions away
    assert page.locator("[data-testid^=delivery-][data-state=sent]").count() == 5
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "campaigns-detail-1280")
    page.goto(f"{live_server.url}/campaigns/")
    assert page.get_by_test_id(f"campaign-{campaign.pk}").get_attribute("data-status") == "done"
    shot(page, "campaigns-list-1280")
    ctx.close()

    ctx, page = login(browser, live_server, "alice", **PHONE)
    for name, path in (("list", "/campaigns/"), ("form", "/campaigns/new/"), ("detail", f"/campaigns/{campaign.pk}/"),
                       ("policy", "/campaigns/policy/")):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        shot(page, f"campaigns-{name}-390")
        assert page.evaluate(OVERFLOW) <= 0, path
    ctx.close()
