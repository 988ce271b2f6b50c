"""The content calendar in a real Chromium: the month grid at 1280 px and the list by day at 390 px,
neither scrolling sideways; the post page with its senders at 390 px."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from journeys.calendar import services
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_calendar_at_1280_and_390(browser, live_server, corp, linked, plan, bob, shot):
    first = plan(bob, title="可可冷萃上新", publish_at=timezone.now() + dt.timedelta(minutes=1))
    plan(bob, title="周末跑团", kind="group", publish_at=timezone.now() + dt.timedelta(hours=1))
    services.tick(now=timezone.now() + dt.timedelta(minutes=2))

    ctx, page = login(browser, live_server, "bob", **DESKTOP)
    page.goto(f"{live_server.url}/calendar/")
    grid = page.get_by_test_id("calendar-grid")
    grid.wait_for()
    assert grid.is_visible() and not page.get_by_test_id("calendar-list").is_visible()
    assert page.get_by_test_id(f"post-{first.pk}").is_visible()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "calendar-month-1280")
    ctx.close()

    ctx, page = login(browser, live_server, "bob", **PHONE)
    page.goto(f"{live_server.url}/calendar/")
    listed = page.get_by_test_id(f"list-post-{first.pk}")
    listed.wait_for()
    assert not page.get_by_test_id("calendar-grid").is_visible()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "calendar-month-390")
    listed.click()
    page.get_by_test_id("senders").wait_for()
    assert page.get_by_test_id("post-state").inner_text().strip() in ("Submitted to WeCom", "Created in WeCom")
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "calendar-post-390")
    ctx.close()


def test_a_clerk_sees_todays_post_on_her_phone(browser, live_server, corp, linked, plan, bob, shot):
    post = plan(bob, title="可可冷萃上新", link_url="https://example.com/cocoa", link_title="门店试饮")
    services.tick()
    ctx, page = login(browser, live_server, "carol", **PHONE)
    page.goto(f"{live_server.url}/m/")
    page.get_by_test_id("today-posts").wait_for()
    page.goto(f"{live_server.url}/calendar/m/")
    card = page.get_by_test_id(f"phone-post-{post.pk}")
    card.wait_for()
    assert "可可冷萃上新" in card.inner_text() and "门店试饮" in card.inner_text()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "calendar-phone-390")
    ctx.close()
