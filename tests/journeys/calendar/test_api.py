"""The posts API (/api/v1/calendar/posts/): planning, editing, cancelling and completion, scoped (operators
brand-wide, a store manager their store's posts and staff, a clerk reads), the error shape, a retried
create answered once under one Idempotency-Key, and a list whose queries do not grow with its rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journeys.calendar import services
from journeys.calendar.models import PlannedPost

pytestmark = pytest.mark.django_db

URL = "/api/v1/calendar/posts/"


def _body(**fields):
    body = {"title": "周末跑团", "text": "周六早上八点，滨江跑道见！", "audience": "store", "store": "SH01",
            "publish_at": (timezone.now() + dt.timedelta(hours=2)).isoformat()}
    body.update(fields)
    return body


@pytest.fixture
def as_user(api_client):
    def login(user):
        api_client.force_authenticate(user)
        return api_client

    return login


def test_a_manager_plans_edits_and_cancels_their_stores_post(linked, as_user, bob):
    client = as_user(bob)
    response = client.post(URL, _body(), format="json")
    assert response.status_code == 201, response.content
    post = response.json()
    assert post["state"] == "scheduled" and post["store"] == "SH01" and post["completion"]["share"] is None
    patched = client.patch(f"{URL}{post['id']}/", {"title": "周末跑团（改）"}, format="json")
    assert patched.status_code == 200 and patched.json()["title"] == "周末跑团（改）"
    assert patched.json()["text"] == "周六早上八点，滨江跑道见！"  # what was left out kept its value
    cancelled = client.post(f"{URL}{post['id']}/cancel/", format="json")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert client.patch(f"{URL}{post['id']}/", {"title": "x"}, format="json").status_code == 409


def test_bad_input_answers_the_error_shape_naming_the_field(linked, as_user, bob):
    client = as_user(bob)
    response = client.post(URL, _body(text="", publish_at=(timezone.now() - dt.timedelta(days=1)).isoformat()),
                           format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {"text", "publish_at"} <= set(details)
    response = client.post(URL, _body(store="BJ01"), format="json")
    assert response.status_code == 400 and "store" in response.json()["error"]["details"]
    assert client.post(URL, _body(staff="carol"), format="json").status_code == 400
    assert PlannedPost.objects.count() == 0


def test_a_retried_create_is_answered_once(linked, as_user, bob):
    client = as_user(bob)
    body = _body()
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="plan-1")
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="plan-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and PlannedPost.objects.count() == 1
    other = client.post(URL, {**body, "title": "另一个"}, format="json", HTTP_IDEMPOTENCY_KEY="plan-1")
    assert other.status_code == 422


def test_scoping_across_stores_and_roles(linked, plan, as_user, alice, bob, carol, dave, store_b):
    ours = plan(bob)
    theirs = plan(alice, store=store_b)
    brand = plan(alice, audience="all", store=None)
    client = as_user(bob)
    listed = {row["id"] for row in client.get(URL).json()["results"]}
    assert listed == {ours.pk, brand.pk}
    assert client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert client.post(f"{URL}{theirs.pk}/cancel/").status_code == 404
    assert client.post(f"{URL}{brand.pk}/cancel/").status_code == 403  # brand-wide: operators only
    clerk = as_user(carol)
    assert clerk.get(f"{URL}{ours.pk}/").status_code == 200
    assert clerk.post(URL, _body(), format="json").status_code == 403
    assert {row["id"] for row in as_user(alice).get(URL, {"store": "BJ01"}).json()["results"]} == {theirs.pk}


def test_completion_lists_the_senders_the_reader_may_see(corp, linked, plan, as_user, alice, bob):
    post = plan(alice, audience="all", store=None)
    services.tick()
    everyone = as_user(alice).get(f"{URL}{post.pk}/completion/").json()
    assert {r["userid"] for r in everyone["senders"]} == {"bob", "carol", "dave"}
    mine = as_user(bob).get(f"{URL}{post.pk}/completion/").json()
    assert {r["userid"] for r in mine["senders"]} == {"bob", "carol"}
    assert mine["completion"]["senders"] == 2
    detail = as_user(bob).get(f"{URL}{post.pk}/").json()
    assert detail["completion"]["senders"] == 2 and detail["state"] == "submitted"


def test_a_store_key_reaches_its_own_store(linked, plan, api_client, make_key, alice, bob, store_a, store_b):
    ours, theirs = plan(bob), plan(alice, store=store_b)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(scopes=['calendar:read'], store=store_a)}")
    assert {row["id"] for row in api_client.get(URL).json()["results"]} == {ours.pk}
    assert api_client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert api_client.post(URL, _body(), format="json").status_code == 403  # a read key


def test_the_list_does_not_grow_its_queries_with_its_rows(linked, plan, as_user, bob):
    client = as_user(bob)
    plan(bob)
    with CaptureQueriesContext(connection) as one:
        assert client.get(URL).status_code == 200
    for n in range(8):
        plan(bob, title=f"post {n}")
    with CaptureQueriesContext(connection) as nine:
        assert len(client.get(URL).json()["results"]) == 9
    assert len(nine) == len(one)
