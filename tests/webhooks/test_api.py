"""The webhooks API: scopes, a key's own subscriptions only, store-bound keys, the actions, the
replay read's pages and type filtering by scope, the error shape, query counts, retried POSTs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from scrm import events
from scrm.models import Event
from scrm.services import api_keys
from tests.webhooks.conftest import ORDERED, TOUCHED
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1:8999/hook"
SUBS = "/api/v1/webhooks/subscriptions/"
EVENTS = "/api/v1/webhooks/events/"
WRITE = ("webhooks:read", "webhooks:write", "members:read", "orders:read")


def client_for(scopes=WRITE, store=None, name="integration"):
    issued = api_keys.issue(name=name, scopes=list(scopes), store=store)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    client.api_key = issued.api_key
    return client


def operator(alice):
    client = APIClient()
    client.force_login(alice)
    return client


def subscribe(client, **body):
    body = {"name": "warehouse", "url": URL, "event_types": [TOUCHED], **body}
    return client.post(SUBS, body, format="json")


def test_a_key_subscribes_itself_and_sees_the_secret_only_in_that_answer(db):
    client = client_for()
    created = subscribe(client)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["api_key"]["id"] == client.api_key.pk
    assert body["store"] is None and body["state"] == "active"
    shown = client.get(f"{SUBS}{body['id']}/").json()
    assert "secret" not in shown and Subscription.objects.get().secret == body["secret"]


def test_scopes_read_and_write(db):
    assert client_for(scopes=("members:read",)).get(SUBS).status_code == 403
    reader = client_for(scopes=("webhooks:read", "members:read"))
    assert reader.get(SUBS).status_code == 200
    refused = subscribe(reader)
    assert refused.status_code == 403 and "webhooks:write" in refused.json()["error"]["message"]


def test_a_key_never_sees_another_keys_subscriptions(db):
    mine, theirs = client_for(name="mine"), client_for(name="theirs")
    other = subscribe(theirs).json()["id"]
    own = subscribe(mine).json()["id"]
    assert [row["id"] for row in mine.get(SUBS).json()["results"]] == [own]
    for method, path in (("get", ""), ("patch", ""), ("delete", ""), ("post", "ping/"), ("post", "pause/"),
                         ("post", "rotate-secret/"), ("get", "deliveries/"), ("get", "figures/")):
        answer = getattr(mine, method)(f"{SUBS}{other}/{path}", {}, format="json")
        assert answer.status_code == 404, (method, path)
        assert answer.json()["error"]["code"] == "not_found"
    assert Subscription.objects.filter(pk=other, state="active").exists()


def test_an_operator_sees_and_manages_every_integrations_subscriptions(alice):
    first, second = client_for(name="one"), client_for(name="two")
    ids = [subscribe(first).json()["id"], subscribe(second).json()["id"]]
    client = operator(alice)
    assert [row["id"] for row in client.get(SUBS).json()["results"]] == ids
    made = subscribe(client, api_key=first.api_key.pk, name="by the operator")
    assert made.status_code == 201 and made.json()["api_key"]["id"] == first.api_key.pk
    missing = subscribe(client)
    assert missing.status_code == 400 and "api_key" in missing.json()["error"]["details"]
    paused = client.post(f"{SUBS}{ids[1]}/pause/", {"reason": "moving"}, format="json")
    assert paused.json()["paused_reason"] == "moving"


def test_store_roles_have_no_access(carol, bob):
    for user in (carol, bob):
        client = APIClient()
        client.force_login(user)
        assert client.get(SUBS).status_code == 403
        assert client.get(EVENTS).status_code == 403


def test_a_store_bound_keys_subscription_is_its_store(store_a, store_b):
    client = client_for(store=store_a)
    made = subscribe(client)
    assert made.status_code == 201 and made.json()["store"] == "SH01"
    refused = subscribe(client, store="BJ01")
    assert refused.status_code == 400 and "store" in refused.json()["error"]["details"]
    assert Subscription.objects.count() == 1


def test_the_error_shape_names_the_field(db):
    client = client_for()
    answer = subscribe(client, event_types=["member.teleported"])
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "validation_error" and "member.teleported" in error["message"]
    assert set(error) == {"status", "code", "message", "details"}
    scoped = client_for(scopes=("webhooks:read", "webhooks:write", "members:read"))
    answer = subscribe(scoped, event_types=[ORDERED])
    assert answer.status_code == 400 and answer.json()["error"]["details"]["scopes"] == ["orders:read"]
    url = subscribe(client, url="ftp://93.184.216.34/x")
    assert url.status_code == 400 and "url" in url.json()["error"]["details"]
    empty = subscribe(client, event_types=[])
    assert empty.status_code == 400 and "event_types" in empty.json()["error"]["details"]


def test_patch_changes_what_is_given(db):
    client = client_for()
    sub = subscribe(client).json()["id"]
    answer = client.patch(f"{SUBS}{sub}/", {"event_types": [TOUCHED, ORDERED]}, format="json")
    assert answer.status_code == 200 and answer.json()["event_types"] == sorted([TOUCHED, ORDERED])
    assert answer.json()["name"] == "warehouse"


def test_rotate_pause_resume_delete(db):
    client = client_for()
    made = subscribe(client).json()
    rotated = client.post(f"{SUBS}{made['id']}/rotate-secret/", format="json")
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    sub = Subscription.objects.get()
    assert (sub.secret, sub.previous_secret) == (secret, made["secret"])
    assert client.get(f"{SUBS}{sub.pk}/").json()["signing_overlap_until"] is not None
    assert client.post(f"{SUBS}{sub.pk}/pause/", format="json").json()["state"] == "paused"
    assert client.post(f"{SUBS}{sub.pk}/ping/", format="json").status_code == 409
    assert client.post(f"{SUBS}{sub.pk}/resume/", format="json").json()["state"] == "active"
    assert client.delete(f"{SUBS}{sub.pk}/").status_code == 204
    assert not Subscription.objects.exists()


def test_a_retried_ping_with_an_idempotency_key_makes_one_delivery(db):
    client = client_for()
    sub = subscribe(client).json()["id"]
    first = client.post(f"{SUBS}{sub}/ping/", format="json", HTTP_IDEMPOTENCY_KEY="ping-1")
    again = client.post(f"{SUBS}{sub}/ping/", format="json", HTTP_IDEMPOTENCY_KEY="ping-1")
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Delivery.objects.count() == 1 and Event.objects.filter(type="ping").count() == 1
    assert client.post(f"{SUBS}{sub}/ping/", format="json", HTTP_IDEMPOTENCY_KEY="ping-2").status_code == 202
    assert Delivery.objects.count() == 2


def test_a_retried_create_with_an_idempotency_key_makes_one_subscription(db):
    client = client_for()
    body = {"name": "warehouse", "url": URL, "event_types": [TOUCHED]}
    first = client.post(SUBS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    again = client.post(SUBS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.status_code == again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert Subscription.objects.count() == 1
    other = client.post(SUBS, {**body, "name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert other.status_code == 422


def _emit(n, code=TOUCHED, store=None):
    events.emit_many(code, [(i + 1, store.pk if store else None, {"n": i}) for i in range(n)])


def test_redeliver_replay_deliveries_and_figures(db):
    client = client_for()
    sub = Subscription.objects.get(pk=subscribe(client).json()["id"])
    _emit(4)
    evs = list(Event.objects.filter(type=TOUCHED).order_by("id"))
    now = timezone.now()
    Delivery.objects.bulk_create([
        Delivery(subscription=sub, event=evs[0], state="delivered", attempts=1, delivered_at=now, latency_ms=120),
        Delivery(subscription=sub, event=evs[1], state="parked", attempts=9, last_status=500, last_error="boom"),
        Delivery(subscription=sub, event=evs[2], state="pending", attempts=2, last_status=503),
        # Claimed and being sent (its attempt counted at the claim): waiting, not retrying.
        Delivery(subscription=sub, event=evs[3], state="pending", attempts=1,
                 leased_until=now + timezone.timedelta(seconds=60)),
    ])
    figures = client.get(f"{SUBS}{sub.pk}/figures/").json()
    assert {k: figures[k] for k in ("delivered", "retrying", "waiting", "parked")} == {
        "delivered": 1, "retrying": 1, "waiting": 1, "parked": 1}
    assert figures["p95_latency_ms"] == {"24h": 120, "7d": 120}
    assert figures["last_failure"]["status"] == 503
    Delivery.objects.filter(event=evs[3]).delete()  # the replay below adds it anew
    parked = client.get(f"{SUBS}{sub.pk}/deliveries/?state=parked").json()["results"]
    assert client.get(f"{SUBS}{sub.pk}/deliveries/?status=parked").status_code == 400
    assert client.get(f"{SUBS}{sub.pk}/deliveries/?state=lost").status_code == 400
    assert [(d["event"]["id"], d["last_error"]) for d in parked] == [(evs[1].pk, "boom")]
    assert client.post(f"{SUBS}{sub.pk}/redeliver/", {}, format="json").json() == {"redelivered": 1}
    replayed = client.post(f"{SUBS}{sub.pk}/replay/", {"after": evs[1].pk}, format="json")
    assert replayed.json() == {"requeued": 1, "created": 1}
    bad = client.post(f"{SUBS}{sub.pk}/replay/", {}, format="json")
    assert bad.status_code == 400 and "after" in bad.json()["error"]["details"]


def test_lists_take_the_same_number_of_queries_however_many_rows(alice):
    client = operator(alice)
    key = client_for().api_key

    def count(path):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    sub = Subscription.objects.create(api_key=key, name="s0", url=URL, event_types=[TOUCHED])
    _emit(2)
    Delivery.objects.bulk_create([Delivery(subscription=sub, event=e) for e in Event.objects.all()])
    few = (count(SUBS), count(f"{SUBS}{sub.pk}/deliveries/"))
    for i in range(1, 8):
        Subscription.objects.create(api_key=client_for(name=f"k{i}").api_key, name=f"s{i}", url=URL,
                                    event_types=[TOUCHED])
    _emit(10)
    Delivery.objects.bulk_create([Delivery(subscription=sub, event=e) for e in Event.objects.all()[2:]])
    assert (count(SUBS), count(f"{SUBS}{sub.pk}/deliveries/")) == few


# --- event types and the replay read --------------------------------------------------------------


def test_event_types_list_codes_labels_and_scopes(db):
    rows = {row["code"]: row for row in client_for().get("/api/v1/webhooks/event-types/").json()}
    assert rows[TOUCHED]["scope"] == "members:read" and rows[ORDERED]["scope"] == "orders:read"
    assert "ping" not in rows and rows[TOUCHED]["label"]


def test_the_replay_read_pages_in_id_order(db):
    _emit(5)
    client = client_for()
    ids = list(Event.objects.order_by("id").values_list("id", flat=True))
    first = client.get(f"{EVENTS}?after=0&limit=2").json()
    assert [e["id"] for e in first["results"]] == ids[:2] and first["next"] == ids[1]
    second = client.get(f"{EVENTS}?after={first['next']}&limit=2").json()
    assert [e["id"] for e in second["results"]] == ids[2:4]
    last = client.get(f"{EVENTS}?after={second['next']}&limit=2").json()
    assert [e["id"] for e in last["results"]] == ids[4:]
    empty = client.get(f"{EVENTS}?after={last['next']}").json()
    assert empty == {"next": last["next"], "results": []}
    envelope = first["results"][0]
    assert set(envelope) == {"id", "type", "occurred_at", "member", "store", "data"}
    assert envelope["member"] == {"id": 1} and envelope["store"] is None and envelope["occurred_at"].endswith("Z")


def test_the_replay_read_answers_the_same_envelope_a_delivery_carries(db):
    import json

    from webhooks.services import sending

    _emit(1)
    event = Event.objects.get()
    got = client_for().get(f"{EVENTS}?after=0").json()["results"][0]
    assert got == json.loads(sending.envelope_of(event))


def test_the_replay_read_filters_types_by_scope_and_store(store_a, store_b):
    _emit(2, store=store_a)
    _emit(2, code=ORDERED, store=store_a)
    _emit(3, store=store_b)
    members_only = client_for(scopes=("webhooks:read", "members:read"))
    rows = members_only.get(f"{EVENTS}?after=0").json()["results"]
    assert {r["type"] for r in rows} == {TOUCHED} and len(rows) == 5
    refused = members_only.get(f"{EVENTS}?after=0&types={ORDERED}")
    assert refused.status_code == 403 and "orders:read" in refused.json()["error"]["message"]
    unknown = members_only.get(f"{EVENTS}?after=0&types=nope")
    assert unknown.status_code == 400 and "types" in unknown.json()["error"]["details"]
    bound = client_for(scopes=("webhooks:read", "members:read", "orders:read"), store=store_a)
    rows = bound.get(f"{EVENTS}?after=0").json()["results"]
    assert len(rows) == 4 and {r["store"]["id"] for r in rows} == {store_a.pk}
    only = bound.get(f"{EVENTS}?after=0&types={ORDERED}").json()["results"]
    assert {r["type"] for r in only} == {ORDERED} and len(only) == 2
    assert client_for(scopes=("members:read",)).get(EVENTS).status_code == 403


def test_the_replay_read_since_a_time_and_its_bad_input(db):
    old = timezone.now() - dt.timedelta(days=2)
    events.emit(TOUCHED, member_id=1, at=old)
    events.emit(TOUCHED, member_id=2)
    client = client_for()
    since = (timezone.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = client.get(f"{EVENTS}?since={since}").json()["results"]
    assert [r["member"]["id"] for r in rows] == [2]
    for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("after=x", "after"),
                         ("since=yesterday", "since"), ("since=2026-12-01T10:00:00", "since"), ("since=", "since"),
                         ("type=member.joined", "type"), ("types=", "types"), ("types=,", "types")):
        answer = client.get(f"{EVENTS}?{query}")
        assert answer.status_code == 400 and field in answer.json()["error"]["details"], query
