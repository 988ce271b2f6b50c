"""The dashboard forms in a real Chromium, at 1280 and at 390 px: a store manager starts a
community from the list, opens "New event" on its page, fills the event (a wrong end first: the
error stands on the field, nothing is saved), and lands on the event's page; the pages never
scroll sideways."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from communities.models import Community, Event
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(("size", "screen"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_a_manager_creates_a_community_and_an_event(browser, live_server, bob, carol, store_a, shot, size, screen):
    ctx, page = login(browser, live_server, "bob", **screen)
    page.goto(f"{live_server.url}/communities/")
    assert page.evaluate(OVERFLOW) <= 0
    page.get_by_test_id("new-community").click()
    page.wait_for_load_state("networkidle")
    name = f"Riverside runners {size}"
    page.fill("#id_name", name)
    page.select_option("#id_kind", "running")
    page.select_option("#id_store", str(store_a.pk))
    page.select_option("#id_owner", str(carol.pk))
    page.fill("#id_capacity", "40")
    page.fill("#id_description", "Tuesday evening runs along the river.")
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, f"communities-community-form-{size}")
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")
    community = Community.objects.get(name=name)
    assert page.url.endswith(f"/communities/{community.pk}/")
    page.get_by_test_id("community-figures").wait_for()
    assert page.evaluate(OVERFLOW) <= 0

    page.get_by_test_id("new-event").click()
    page.wait_for_load_state("networkidle")
    start = timezone.now() + dt.timedelta(days=5)
    page.fill("#id_title", "Tuesday 10 km")
    page.fill("#id_starts_at", local(start))
    page.fill("#id_ends_at", local(start - dt.timedelta(hours=1)))
    page.fill("#id_place", "North bridge")
    page.fill("#id_capacity", "25")
    page.fill("#id_points_price", "30")
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")
    error = page.get_by_test_id("field-ends_at").locator(".errorlist")
    assert "before it starts" in error.inner_text()
    assert not Event.objects.exists()
    assert page.evaluate(OVERFLOW) <= 0
    page.fill("#id_ends_at", local(start + dt.timedelta(hours=1)))
    shot(page, f"communities-event-form-{size}")
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")
    event = Event.objects.get()
    assert page.url.endswith(f"/events/{event.pk}/")
    assert event.community == community and event.capacity == 25 and event.points_price == 30
    assert "30 pts a seat" in page.get_by_test_id("event-price").inner_text()
    page.get_by_test_id("edit-event").wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    ctx.close()
