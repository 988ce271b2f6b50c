"""The communities API: communities, events, sign-ups and check-ins beneath them; scoping by role
and store, strict bodies, retried POSTs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from communities.models import CheckIn, Event, SignUp

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _event_body(club, **over):
    start = timezone.now() + dt.timedelta(days=3)
    body = {"community": club.pk, "title": "Sunday ride", "place": "West Lake", "capacity": 1,
            "starts_at": start.isoformat(), "ends_at": (start + dt.timedelta(hours=3)).isoformat()}
    body.update(over)
    return body


def test_a_managers_community_event_sign_ups_and_check_ins(club, bob, carol, members):
    a, _b = members
    manager = client_for(bob)
    made = manager.post("/api/v1/communities/", {"store": "SH01", "name": "Parents and kids", "owner": carol.pk,
                                                 "kind": "parent_child", "capacity": 30}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["store"] == "SH01"
    joined = manager.post(f"/api/v1/communities/{made.json()['id']}/members/", {"member": a[0].pk}, format="json")
    assert joined.status_code == 201
    event = manager.post("/api/v1/events/", _event_body(club), format="json")
    assert event.status_code == 201, event.content
    eid = event.json()["id"]
    first = manager.post(f"/api/v1/events/{eid}/signups/", {"member": a[0].pk}, format="json",
                         HTTP_IDEMPOTENCY_KEY="s-1")
    replay = manager.post(f"/api/v1/events/{eid}/signups/", {"member": a[0].pk}, format="json",
                          HTTP_IDEMPOTENCY_KEY="s-1")
    assert first.status_code == 201 and first.json()["state"] == "confirmed"
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    second = manager.post(f"/api/v1/events/{eid}/signups/", {"member": a[1].pk}, format="json")
    assert (second.json()["state"], second.json()["position"]) == ("waitlisted", 1)
    phone = client_for(carol)
    door = phone.post(f"/api/v1/events/{eid}/checkins/", {"code": first.json()["code"], "source": "scan",
                                                          "device": "door 1"}, format="json")
    assert door.status_code == 201 and door.json()["created"] is True
    again = manager.post(f"/api/v1/events/{eid}/checkins/", {"member": a[0].pk, "source": "list"}, format="json")
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["checkin"]["staff_name"] == "Carol" and "door 1" in again.json()["message"]
    listed = manager.get(f"/api/v1/events/{eid}/signups/?state=waitlisted").json()["results"]
    assert [s["member"] for s in listed] == [a[1].pk]


def test_walk_ins_refused_and_bad_input_named(club, bob, members):
    a, _b = members
    manager = client_for(bob)
    eid = manager.post("/api/v1/events/", _event_body(club, walk_ins_allowed=False), format="json").json()["id"]
    refused = manager.post(f"/api/v1/events/{eid}/checkins/", {"member": a[2].pk, "source": "typed"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "walk_in_refused"
    assert not CheckIn.objects.exists()
    start = timezone.now() + dt.timedelta(days=3)
    backwards = manager.post("/api/v1/events/", _event_body(club, ends_at=(start - dt.timedelta(hours=1)).isoformat(),
                                                           starts_at=start.isoformat()), format="json")
    assert backwards.status_code == 400 and "ends_at" in backwards.json()["error"]["details"]
    as_text = manager.post("/api/v1/events/", _event_body(club, capacity="10"), format="json")
    assert as_text.status_code == 400 and "capacity" in as_text.json()["error"]["details"]
    manager.post(f"/api/v1/events/{eid}/signups/", {"member": a[0].pk}, format="json")
    lower = manager.patch(f"/api/v1/events/{eid}/", {"capacity": 0}, format="json")
    assert lower.status_code == 400
    Event.objects.filter(pk=eid).update(signup_closes_at=timezone.now() - dt.timedelta(minutes=1))
    late = manager.post(f"/api/v1/events/{eid}/signups/", {"member": a[1].pk}, format="json")
    assert late.status_code == 409 and late.json()["error"]["code"] == "signup_closed"
    assert SignUp.objects.filter(event_id=eid).count() == 1
    both = manager.post(f"/api/v1/events/{eid}/checkins/", {"source": "typed"}, format="json")
    assert both.status_code == 400 and "code" in both.json()["error"]["details"]


def test_another_stores_staff_are_refused(club, bob, dave, members):
    a, b = members
    eid = client_for(bob).post("/api/v1/events/", _event_body(club), format="json").json()["id"]
    other = client_for(dave)
    assert other.get(f"/api/v1/communities/{club.pk}/").status_code == 404
    assert other.patch(f"/api/v1/communities/{club.pk}/", {"description": "mine"}, format="json").status_code == 404
    assert other.get(f"/api/v1/events/{eid}/").status_code == 404
    assert other.post(f"/api/v1/events/{eid}/checkins/", {"member": b[0].pk, "source": "typed"},
                      format="json").status_code == 404
    assert other.post("/api/v1/events/", _event_body(club), format="json").status_code == 400  # no such community
    assert other.get("/api/v1/communities/").json()["results"] == []


def test_a_store_bound_key_and_scopes(club, key_client, store_b, members):
    a, _b = members
    reader = key_client(scopes=["communities:read", "events:read"], store=store_b)
    assert reader.get("/api/v1/communities/").json()["results"] == []
    assert reader.post("/api/v1/events/", _event_body(club), format="json").status_code == 403


def test_a_json_null_body_is_refused_not_read_as_no_change(club, bob):
    response = client_for(bob).patch(f"/api/v1/communities/{club.pk}/", data="null", content_type="application/json")
    assert response.status_code == 400, response.content
    club.refresh_from_db()
    assert club.name == "Night runners"
