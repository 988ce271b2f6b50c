"""The appointments API: scopes, another store's objects as 404, the error shape, retries with an
Idempotency-Key, and a query-count guard on the bookings list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Booking
from appointments.services import bookings
from scrm import permissions

pytestmark = pytest.mark.django_db
STORE_SCOPES = permissions.available_scopes(store_bound=True)


@pytest.fixture
def key_a(api_client, make_key, store_a):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(scopes=STORE_SCOPES, store=store_a)}")
    return api_client


def _body(eye_test, member, at, **extra):
    return {"member": member.pk, "service": eye_test.pk, "store": "SH01", "starts_at": at.isoformat(), **extra}


def test_availability_then_book_then_retry(key_a, eye_test, member_a, tomorrow_noon):
    day = timezone.localtime(tomorrow_noon).date()
    response = key_a.get("/api/v1/appointments/availability/", {"service": eye_test.pk, "store": "SH01",
                                                                  "start": day.isoformat(), "days": 1})
    assert response.status_code == 200, response.content
    slots = response.json()["slots"]
    assert slots and tomorrow_noon.isoformat()[:16] in {s["starts_at"][:16] for s in slots}
    headers = {"HTTP_IDEMPOTENCY_KEY": "book-1"}
    first = key_a.post("/api/v1/appointments/bookings/", _body(eye_test, member_a, tomorrow_noon), format="json",
                       **headers)
    assert first.status_code == 201, first.content
    again = key_a.post("/api/v1/appointments/bookings/", _body(eye_test, member_a, tomorrow_noon), format="json",
                       **headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert Booking.objects.count() == 1
    taken = key_a.post("/api/v1/appointments/bookings/", _body(eye_test, member_a, tomorrow_noon), format="json")
    assert taken.status_code == 409


def test_bad_input_is_a_clear_400(key_a, eye_test, member_a, tomorrow_noon):
    late = tomorrow_noon.replace(hour=17, minute=45)
    response = key_a.post("/api/v1/appointments/bookings/", _body(eye_test, member_a, late), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "starts_at" in error["details"] and "18:00" in error["message"]
    past = key_a.post("/api/v1/appointments/bookings/",
                      _body(eye_test, member_a, timezone.now() - dt.timedelta(days=1)), format="json")
    assert past.status_code == 400 and "past" in past.json()["error"]["message"]
    assert Booking.objects.count() == 0


def test_another_stores_booking_is_404(key_a, api_client, eye_test, member_a, tomorrow_noon, alice, make_key,
                                       store_b):
    b = bookings.book(actor=alice, service=eye_test, store=eye_test.store, member_id=member_a.pk,
                      starts_at=tomorrow_noon, source="guide").booking
    other = api_client.__class__()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(scopes=STORE_SCOPES, store=store_b)}")
    assert other.get(f"/api/v1/appointments/bookings/{b.pk}/").status_code == 404
    assert other.post(f"/api/v1/appointments/bookings/{b.pk}/cancel/", {}, format="json").status_code == 404
    assert other.get("/api/v1/appointments/availability/", {"service": eye_test.pk, "store": "SH01"}).status_code == 404
    assert key_a.post(f"/api/v1/appointments/bookings/{b.pk}/cancel/", {"by": "store"},
                      format="json").json()["state"] == "cancelled"


def test_actions(key_a, eye_test, member_a, tomorrow_noon, alice):
    b = bookings.book(actor=alice, service=eye_test, store=eye_test.store, member_id=member_a.pk,
                      starts_at=tomorrow_noon, source="guide").booking
    moved = key_a.post(f"/api/v1/appointments/bookings/{b.pk}/reschedule/",
                       {"starts_at": (tomorrow_noon + dt.timedelta(hours=1)).isoformat()}, format="json")
    assert moved.status_code == 200, moved.content
    new_id = moved.json()["id"]
    early = key_a.post(f"/api/v1/appointments/bookings/{new_id}/check-in/", format="json")
    assert early.status_code == 409 and early.json()["error"]["code"] == "outside_rule"
    assert key_a.post(f"/api/v1/appointments/bookings/{new_id}/no-show/", format="json").status_code == 409


def test_a_clerk_cannot_offer_a_service_and_a_manager_cannot_offer_one_brand_wide(api_client, carol, bob, open_store):
    api_client.force_authenticate(carol)
    body = {"name": "Massage", "duration_minutes": 30, "store": "SH01"}
    assert api_client.post("/api/v1/appointments/services/", body, format="json").status_code == 403
    api_client.force_authenticate(bob)
    assert api_client.post("/api/v1/appointments/services/", body, format="json").status_code == 201
    assert api_client.post("/api/v1/appointments/services/", {**body, "store": None}, format="json").status_code == 403


def test_bookings_list_query_count(key_a, eye_test, members, tomorrow_noon, alice):
    for i, member in enumerate(members[0]):
        bookings.book(actor=alice, service=eye_test, store=eye_test.store, member_id=member.pk,
                      starts_at=tomorrow_noon + dt.timedelta(hours=i * 1), source="guide")
    key_a.get("/api/v1/appointments/bookings/")  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        assert key_a.get("/api/v1/appointments/bookings/", {"page_size": 1}).status_code == 200
    with CaptureQueriesContext(connection) as many:
        assert len(key_a.get("/api/v1/appointments/bookings/").json()["results"]) == 3
    assert len(many) == len(one)
