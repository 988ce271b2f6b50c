"""The screens: the public page of a signed link (no login, both languages), the guide's booking from the
member's card, my day on the phone, the store calendar, services, figures; per role."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments.models import Booking, Service
from appointments.services import links

pytestmark = pytest.mark.django_db


def _day(at):
    return timezone.localtime(at).date().isoformat()


def test_a_members_link_books_without_a_login(client, eye_test, open_store, member_a, tomorrow_noon):
    url = reverse("appointments-public", args=[links.make(store_id=open_store.pk, member_id=member_a.pk)])
    page = client.get(url, {"service": eye_test.pk, "day": _day(tomorrow_noon)})
    assert page.status_code == 200 and "免费验光" in page.content.decode()
    body = {"service": eye_test.pk, "day": _day(tomorrow_noon), "starts_at": tomorrow_noon.isoformat(),
            "request_key": "public-1"}
    done = client.post(url, body)
    assert done.status_code == 200 and 'data-testid="appt-booked"' in done.content.decode()
    client.post(url, body)  # a double tap books once
    booking = Booking.objects.get()
    assert booking.member_id == member_a.pk and booking.source == "public"


def test_a_store_link_asks_for_the_phone_and_says_what_is_wrong(client, eye_test, open_store, member_a,
                                                                 tomorrow_noon):
    url = reverse("appointments-public", args=[links.make(store_id=open_store.pk, service_id=eye_test.pk)])
    body = {"service": eye_test.pk, "starts_at": tomorrow_noon.isoformat(), "phone": "+8600000000"}
    missing = client.post(url, body).content.decode()
    assert "could not find a membership" in missing and not Booking.objects.exists()
    late = client.post(url, {**body, "phone": member_a.phone, "starts_at": tomorrow_noon.replace(hour=17, minute=45)
                             .isoformat()}).content.decode()
    assert 'data-testid="appt-error"' in late and not Booking.objects.exists()
    assert 'data-testid="appt-booked"' in client.post(url, {**body, "phone": member_a.phone}).content.decode()


def test_a_tampered_link_is_404(client, open_store):
    token = links.make(store_id=open_store.pk)
    assert client.get(reverse("appointments-public", args=[token[:-2] + "xx"])).status_code == 404


def test_the_public_page_in_chinese(client, eye_test, open_store):
    url = reverse("appointments-public", args=[links.make(store_id=open_store.pk)])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and '<html lang="zh-hans">' in page.content.decode()


def test_the_guide_books_from_the_members_card(client, carol, eye_test, member_a, tomorrow_noon):
    client.force_login(carol)
    card = client.get(reverse("member-detail", args=[member_a.pk])).content.decode()
    assert 'data-testid="appointments-panel"' in card and 'data-testid="appt-book-for-member"' in card
    url = reverse("appointments-guide-booking", args=[member_a.pk])
    assert client.get(url, {"service": eye_test.pk, "day": _day(tomorrow_noon)}).status_code == 200
    response = client.post(url, {"service": eye_test.pk, "starts_at": tomorrow_noon.isoformat()})
    assert response.status_code == 302
    assert Booking.objects.get().source == "guide"


def test_my_day_shows_who_they_are_and_checks_in(client, carol, eye_test, open_store, member_a):
    from members.models import Tag, TagGroup
    from members.services import tags

    group = TagGroup.objects.create(name="眼镜")
    tags.apply_pairs([(member_a.pk, Tag.objects.create(group=group, name="近视"))], actor=carol, source="manual")
    at = timezone.now() + dt.timedelta(minutes=30)
    if timezone.localtime(at).date() != timezone.localtime().date():
        at = timezone.now()  # just before midnight: a booking starting now is still today's
    b = Booking.objects.create(member=member_a, service=eye_test, staff=carol, store=open_store, starts_at=at,
                               ends_at=at + dt.timedelta(minutes=45), held_from=at,
                               held_until=at + dt.timedelta(hours=1), source="guide")
    client.force_login(carol)
    page = client.get(reverse("appointments-my-day")).content.decode()
    assert f'data-testid="my-day-{b.pk}"' in page and member_a.name in page and "近视" in page
    client.post(reverse("appointments-booking-check-in", args=[b.pk]), {"next": "/m/appointments/"})
    b.refresh_from_db()
    assert b.state == "checked_in"


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_the_staff_pages_answer_each_role(who, client, request, eye_test):
    client.force_login(request.getfixturevalue(who))
    for name in ("appointments-calendar", "appointments-services", "appointments-figures", "appointments-my-day"):
        assert client.get(reverse(name)).status_code == 200, name


def test_a_manager_adds_a_service_and_a_clerk_may_not(client, bob, carol, open_store):
    client.force_login(bob)
    body = {"store": "SH01", "name": "儿童推拿", "duration_minutes": 40, "price_kind": "at_store",
            "price_amount": "98", "points_price": 0, "buffer_minutes": 10, "min_notice_minutes": 60,
            "max_days_ahead": 30, "cancel_hours": 2, "place": "store", "travel_minutes": 0, "follow_up_days": 0,
            "follow_up_text": "", "is_active": "on", "description": ""}
    assert client.post(reverse("appointments-service-create"), body).status_code == 302
    client.force_login(carol)
    assert client.post(reverse("appointments-service-create"), {**body, "name": "x"}).status_code == 403
    assert not Service.objects.filter(name="x").exists()
