"""The seasons screens in a real Chromium: an operator goes from the send policy to the seasons, adds
Christmas (wrapping the year end), is refused an overlapping winter sale under the form with the
other season named, edits Christmas's cap and deletes it through the confirmation; a store manager
finds the seasons in the sidebar and reads them without any way to change them; the list and the
form fit 1280 px and 390 px without sideways scrolling."""

from __future__ import annotations

import pytest

from campaigns.models import Season
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fill(page, name, start, end, caps):
    page.fill("#id_name", name)
    page.select_option("#id_start_month", str(start[0]))
    page.fill("#id_start_day", str(start[1]))
    page.select_option("#id_end_month", str(end[0]))
    page.fill("#id_end_day", str(end[1]))
    for field, value in zip(("daily_cap", "weekly_cap", "monthly_cap"), caps, strict=True):
        page.fill(f"#id_{field}", str(value))
    page.get_by_test_id("save-season").click()
    page.wait_for_load_state("networkidle")


def test_an_operator_adds_is_refused_an_overlap_edits_and_deletes_a_season(browser, live_server, alice, bob, policy,
                                                                         shot):
    ctx, page = login(browser, live_server, "alice", **DESKTOP)
    page.goto(f"{live_server.url}/campaigns/policy/")
    page.get_by_test_id("seasons-link").click()
    page.wait_for_load_state("networkidle")
    assert "No seasons" in page.get_by_test_id("season-rows").inner_text()
    page.get_by_test_id("new-season").click()
    page.wait_for_load_state("networkidle")
    _fill(page, "Christmas", (12, 15), (1, 6), (2, 6, 12))
    christmas = Season.objects.get()
    row = page.get_by_test_id(f"season-{christmas.pk}")
    assert "December 15" in row.inner_text() and "January 6" in row.inner_text()

    page.get_by_test_id("new-season").click()
    page.wait_for_load_state("networkidle")
    _fill(page, "Winter sale", (1, 2), (1, 20), (1, 2, 3))
    errors = page.get_by_test_id("season-errors").inner_text()
    assert "Christmas" in errors and "overlap" in errors
    assert page.input_value("#id_name") == "Winter sale"  # what was typed is kept
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "seasons-form-overlap-1280")
    assert Season.objects.count() == 1

    page.goto(f"{live_server.url}/campaigns/policy/seasons/")
    page.get_by_test_id(f"season-{christmas.pk}").get_by_role("link", name="Christmas").click()
    page.wait_for_load_state("networkidle")
    page.fill("#id_daily_cap", "3")
    page.get_by_test_id("save-season").click()
    page.wait_for_load_state("networkidle")
    christmas.refresh_from_db()
    assert christmas.daily_cap == 3
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "seasons-list-1280")

    page.get_by_test_id(f"delete-season-{christmas.pk}").click()
    dialog = page.locator("#confirm-dialog")
    assert dialog.is_visible() and "Christmas" in dialog.inner_text()
    with page.expect_navigation():
        dialog.locator("button[value=ok]").click()
    page.wait_for_load_state("networkidle")
    assert not Season.objects.exists()
    ctx.close()

    Season.objects.create(name="Valentine's", start_month=2, start_day=1, end_month=2, end_day=14)
    ctx, page = login(browser, live_server, "bob", **PHONE)
    page.goto(f"{live_server.url}/")
    page.wait_for_load_state("networkidle")
    assert page.locator("nav.sidebar a[href='/campaigns/policy/seasons/']").count() == 1
    page.goto(f"{live_server.url}/campaigns/policy/seasons/")
    page.wait_for_load_state("networkidle")
    assert "Valentine's" in page.get_by_test_id("season-rows").inner_text()
    assert page.get_by_test_id("new-season").count() == 0
    assert page.locator("[data-testid^=delete-season-]").count() == 0
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "seasons-list-390")
    ctx.close()

    ctx, page = login(browser, live_server, "alice", **PHONE)
    for path in ("/campaigns/policy/seasons/", "/campaigns/policy/seasons/new/", "/campaigns/policy/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(OVERFLOW) <= 0, path
    shot(page, "seasons-policy-390")
    ctx.close()
