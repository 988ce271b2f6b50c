"""The door's check-in screen in a real Chromium at 390 px: a clerk opens today's events, types a
ticket code (the answer appears at once, without a page load), ticks a name on the list, and a
second tap on a member already in says when and by whom; the page never scrolls sideways."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from communities.models import CheckIn
from communities.services import checkins, signups
from tests.browsing import OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clerk_checks_people_in_on_a_phone(browser, live_server, make_event, members, carol, bob, shot):
    a, _b = members
    soon = timezone.now() + dt.timedelta(minutes=10)
    event = make_event(starts_at=soon, ends_at=soon + dt.timedelta(hours=1), capacity=3)
    tickets = [signups.sign_up(event=event, member_id=m.pk, actor=bob).signup for m in a]
    ctx, page = login(browser, live_server, "carol", **PHONE)
    page.goto(f"{live_server.url}/m/events/")
    assert page.evaluate(OVERFLOW) <= 0
    page.get_by_test_id(f"m-event-{event.pk}").locator("a").click()
    page.wait_for_load_state("networkidle")
    assert page.evaluate(OVERFLOW) <= 0

    page.get_by_test_id("code-input").fill(tickets[0].code.lower())
    page.get_by_test_id("code-input").press("Enter")
    answer = page.get_by_test_id("answer-text")
    answer.wait_for()
    assert answer.get_attribute("data-outcome") == "checked-in" and a[0].name in answer.inner_text()
    page.get_by_test_id(f"in-{a[0].pk}").wait_for()

    page.get_by_test_id(f"tick-{a[1].pk}").click()
    page.get_by_test_id(f"in-{a[1].pk}").wait_for()
    assert "2 checked in" in page.get_by_test_id("door-count").inner_text()

    checkins.check_in(event=event, actor=bob, source="scan", code=tickets[2].code, device="door 2")
    page.get_by_test_id(f"tick-{a[2].pk}").click()  # this phone's list is older than the other door's scan
    page.locator("[data-outcome=repeat]").wait_for()
    text = page.get_by_test_id("answer-text").inner_text()
    assert "Already checked in" in text and "Bob" in text and "door 2" in text
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "communities-check-in-390")
    assert CheckIn.objects.filter(event=event).count() == 3
    ctx.close()


def test_a_phone_keeps_scanning_offline_and_syncs_later(browser, live_server, make_event, members, carol, bob):
    a, _b = members
    soon = timezone.now() + dt.timedelta(minutes=10)
    event = make_event(starts_at=soon, ends_at=soon + dt.timedelta(hours=1), capacity=3)
    tickets = [signups.sign_up(event=event, member_id=m.pk, actor=bob).signup for m in a]
    ctx, page = login(browser, live_server, "carol", **PHONE)
    page.goto(f"{live_server.url}/m/events/{event.pk}/check-in/")
    page.wait_for_load_state("networkidle")
    ctx.set_offline(True)
    for ticket in tickets[:2]:
        page.get_by_test_id("code-input").fill(ticket.code)
        page.get_by_test_id("code-input").press("Enter")
    status = page.get_by_test_id("door-sync-status")
    page.locator("[data-testid=door-sync-status][data-waiting='2']").wait_for()
    assert "2" in status.inner_text()
    # Meanwhile another door, online, checks the first member in: later than this phone's scan.
    checkins.check_in(event=event, actor=bob, source="scan", code=tickets[0].code, device="door 2")
    assert page.evaluate(OVERFLOW) <= 0
    ctx.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.locator("[data-testid=door-sync-status][data-waiting='0']").wait_for(timeout=20000)
    page.locator("#door-sync-log .conflict").wait_for()
    assert "door 2" in page.get_by_test_id("door-sync-log").inner_text()
    assert CheckIn.objects.filter(event=event).count() == 2
    first = CheckIn.objects.get(event=event, member=a[0])
    assert first.staff_id == carol.pk  # the offline scan was earlier: it stands
    assert page.evaluate(OVERFLOW) <= 0
    ctx.close()
