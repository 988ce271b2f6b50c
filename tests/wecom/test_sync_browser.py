"""The sync page in a real Chromium: an operator starts a full sync from the sidebar's page, a real
Celery worker runs it against the local WeCom server, the run's page follows it by itself until it
is done and shows its counts and the unlinked staff member's reason; both pages fit 1280 px and
390 px without sideways scrolling of the page."""

from __future__ import annotations

import pytest

from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_starts_a_full_sync_and_watches_it_finish(
    browser, live_server, make_corp, celery_worker, alice, carol, dave, shot
):
    make_corp(staff=["carol", "dave", "erin"], contacts_per_staff=30)
    ctx, page = login(browser, live_server, "alice", **DESKTOP)
    page.click("nav.sidebar a[href='/wecom/sync/']")
    page.wait_for_load_state("networkidle")
    page.click("[data-testid=start-full] button")
    page.wait_for_selector("[data-testid=sync-run][data-status=done]", timeout=60_000)
    text = page.inner_text("[data-testid=sync-run]")
    assert "not linked to a Siyu account" in text  # erin
    cards = page.inner_text(".cards")
    assert "Added" in cards
    from wecom.models import SyncRun

    run = SyncRun.objects.get()
    assert run.added > 0 and f"{run.added}" in cards.replace(",", "")
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "wecom-sync-run-desktop")
    page.goto(f"{live_server.url}/wecom/sync/")
    assert page.locator(f"[data-testid=run-{run.pk}][data-status=done]").count() == 1
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "wecom-sync-list-desktop")
    ctx.close()

    ctx, page = login(browser, live_server, "alice", **PHONE)
    for path in ("/wecom/sync/", f"/wecom/sync/{run.pk}/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(OVERFLOW) <= 0, path
    shot(page, "wecom-sync-run-phone")
    ctx.close()
