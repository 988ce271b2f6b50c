"""The journeys API: write, change (a version), activate / pause / end with an Idempotency-Key, runs
and figures per step, scoped: operators brand-wide, a store manager their store's journeys (the
brand's read-only), another store's journey a 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from journeys.models import Journey, JourneyRun
from journeys.services import ticking
from members.models import Member
from tests.journeys.test_journeys import allow

pytestmark = pytest.mark.django_db
BODY = {"name": "生日关怀", "trigger": "birthday", "entry_rule": "per_period", "entry_period": "year",
        "steps": [{"kind": "send", "config": {"channel": "outbox", "content": "生日快乐 {name}"}},
                  {"kind": "task", "config": {"kind": "birthday"}}]}


def _post(client, url, body=None, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body or {}, format="json", **headers)


def test_create_activate_run_and_figures(api_client, alice, members):
    a, _b = members
    Member.objects.filter(pk=a[0].pk).update(birthday=timezone.localdate().replace(year=1990))
    allow(a[0])
    api_client.force_authenticate(alice)
    created = _post(api_client, "/api/v1/journeys/", BODY, key="j1")
    assert created.status_code == 201, created.json()
    journey = created.json()
    assert [s["kind"] for s in journey["steps"]] == ["send", "task"] and journey["state"] == "draft"
    assert _post(api_client, "/api/v1/journeys/", BODY, key="j1").json()["id"] == journey["id"]  # replayed
    assert Journey.objects.count() == 1
    live = _post(api_client, f"/api/v1/journeys/{journey['id']}/activate/", key="a1")
    assert live.status_code == 200 and live.json()["state"] == "live"
    ticking.tick(now_fn=lambda: timezone.now() + dt.timedelta(minutes=1))
    runs = api_client.get(f"/api/v1/journeys/{journey['id']}/runs/").json()
    assert [r["member"] for r in runs["results"]] == [a[0].pk] and runs["results"][0]["state"] == "done"
    figures = api_client.get(f"/api/v1/journeys/{journey['id']}/figures/").json()
    assert figures["entered"] == 1 and [s["reached"] for s in figures["steps"]] == [1, 1]
    assert figures["steps"][0]["outcomes"] == {"queued": 1}
    changed = api_client.patch(f"/api/v1/journeys/{journey['id']}/", {"steps": BODY["steps"][:1]}, format="json")
    assert changed.status_code == 200 and changed.json()["version"] == 2 and len(changed.json()["steps"]) == 1
    assert _post(api_client, f"/api/v1/journeys/{journey['id']}/end/", key="e1").json()["state"] == "ended"


def test_bad_steps_answer_where(api_client, alice):
    api_client.force_authenticate(alice)
    body = {**BODY, "steps": [{"kind": "wait", "config": {"mode": "duration", "days": 0}},
                              {"kind": "branch", "config": {"condition": "ordered", "goto": 1}}]}
    answer = _post(api_client, "/api/v1/journeys/", body, key="bad")
    assert answer.status_code == 400
    details = answer.json()["error"]["details"]["steps"]
    assert set(details) == {"1", "2"} and "goto" in details["2"]
    assert _post(api_client, "/api/v1/journeys/", {**BODY, "steps": []}, key="none").status_code == 400
    assert Journey.objects.count() == 0


def test_store_manager_scope(api_client, alice, bob, store_a, store_b):
    api_client.force_authenticate(alice)
    brand = _post(api_client, "/api/v1/journeys/", BODY, key="b").json()
    other = _post(api_client, "/api/v1/journeys/", {**BODY, "store": store_b.code}, key="o").json()
    api_client.force_authenticate(bob)
    listed = {j["id"] for j in api_client.get("/api/v1/journeys/").json()["results"]}
    assert brand["id"] in listed and other["id"] not in listed
    assert api_client.get(f"/api/v1/journeys/{other['id']}/").status_code == 404
    assert _post(api_client, f"/api/v1/journeys/{brand['id']}/activate/", key="x").status_code == 403
    mine = _post(api_client, "/api/v1/journeys/", BODY, key="m")
    assert mine.status_code == 201 and mine.json()["store"] == store_a.code


def test_templates_are_bodies_for_create(api_client, alice):
    api_client.force_authenticate(alice)
    templates = api_client.get("/api/v1/journeys/templates/").json()
    assert {t["code"] for t in templates} == {"new_customer", "holiday", "conversion", "recurring_care"}
    body = next(t for t in templates if t["code"] == "recurring_care")["journey"]
    assert _post(api_client, "/api/v1/journeys/", body, key="t").status_code == 201


def test_list_query_count_does_not_grow(api_client, alice, django_assert_max_num_queries):
    api_client.force_authenticate(alice)
    for i in range(5):
        _post(api_client, "/api/v1/journeys/", {**BODY, "name": f"J{i}"}, key=f"k{i}")
    with django_assert_max_num_queries(8):
        assert len(api_client.get("/api/v1/journeys/").json()["results"]) == 5
    assert not JourneyRun.objects.exists()
