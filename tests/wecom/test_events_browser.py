"""The events page in a real Chromium: the local WeCom server sends real encrypted callbacks to the
live app, an operator sees them with their counts, filters the failed one and retries it through
the confirmation dialog; the page fits 1280 px and 390 px without sideways scrolling of the page."""

from __future__ import annotations

import pytest

from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_sees_callbacks_and_retries_a_failed_one(browser, live_server, make_corp, alice, shot):
    from wecom.models import CallbackEvent, EventStatus

    server = make_corp(callback_url=f"{live_server.url}/wecom/callback/", staff=["sh01_staff1"], contacts_per_staff=2)
    server.corp.add_contact(userid="sh01_staff1", state="store:SH01")
    server.corp.tag_event(change_type="create", name="VIP")
    assert server.wait_callbacks(20) and server.callbacks.failed == []
    tag_event = CallbackEvent.objects.get(event="change_external_tag")
    CallbackEvent.objects.filter(pk=tag_event.pk).update(status=EventStatus.FAILED, attempts=5, error="RuntimeError: x")

    ctx, page = login(browser, live_server, "alice", **DESKTOP)
    page.click("nav.sidebar a[href='/wecom/events/']")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("[data-testid=count-failed]") == "1"
    assert page.inner_text("[data-testid=count-pending]") == "1"
    table = page.inner_text("[data-testid=event-table]")
    assert "add_external_contact" in table and "change_external_tag" in table and "sh01_staff1" in table
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "wecom-events-desktop")

    page.select_option(".filters select[name=status]", "failed")
    page.wait_for_function("() => !document.querySelector('#event-rows').innerText.includes('add_external_contact')")
    assert "change_external_tag" in page.inner_text("#event-rows")

    page.get_by_test_id("retry-failed").locator("button").click()
    dialog = page.locator("#confirm-dialog")
    dialog.locator("button[value=ok]").click()
    page.wait_for_load_state("networkidle")
    assert "1 failed event will be processed again." in page.inner_text(".messages")
    assert CallbackEvent.objects.get(pk=tag_event.pk).status == EventStatus.PENDING
    assert page.inner_text("[data-testid=count-failed]") == "0"
    ctx.close()

    ctx, page = login(browser, live_server, "alice", **PHONE)
    page.goto(f"{live_server.url}/wecom/events/")
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "wecom-events-phone")
    ctx.close()
