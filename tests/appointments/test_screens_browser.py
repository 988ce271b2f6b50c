"""The booking pages in a real Chromium: a member books from their own link on a 390 px phone, in
Chinese and in English, without a login; my day on the phone and the store calendar on a desktop;
no page scrolls sideways."""

from __future__ import annotations

import pytest
from django.utils import timezone

from appointments.models import Booking
from appointments.services import links
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_member_books_from_their_link_on_a_phone(locale, browser, live_server, eye_test, open_store, member_a,
                                                   tomorrow_noon):
    ctx = browser.new_context(locale=locale, **PHONE)
    page = ctx.new_page()
    token = links.make(store_id=open_store.pk, member_id=member_a.pk)
    day = timezone.localtime(tomorrow_noon).date().isoformat()
    page.goto(f"{live_server.url}/book/{token}/?service={eye_test.pk}&day={day}")
    assert page.evaluate(OVERFLOW) <= 0
    page.get_by_test_id("appt-first-slot").check()
    page.get_by_test_id("appt-book").click()
    page.get_by_test_id("appt-booked").wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    assert Booking.objects.filter(member=member_a, source="public").count() == 1
    ctx.close()


def test_my_day_on_a_phone_and_the_calendar_on_a_desktop(browser, live_server, carol, bob, eye_test, member_a,
                                                         tomorrow_noon):
    from appointments.services import bookings

    bookings.book(actor=carol, service=eye_test, store=eye_test.store, member_id=member_a.pk,
                  starts_at=tomorrow_noon, source="guide")
    ctx, page = login(browser, live_server, "carol", **PHONE)
    page.goto(f"{live_server.url}/m/appointments/?day={timezone.localtime(tomorrow_noon).date().isoformat()}")
    page.get_by_test_id("my-day").wait_for()
    assert member_a.name in page.get_by_test_id("my-day").inner_text()
    assert page.evaluate(OVERFLOW) <= 0
    ctx.close()
    ctx, page = login(browser, live_server, "bob", **DESKTOP)
    page.goto(f"{live_server.url}/appointments/")
    page.get_by_test_id("appt-calendar").wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    ctx.close()
