"""The segments API: CRUD within the caller's store, live count + sample, members, snapshots,
scopes and the error shape with the bad node's path."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from members.segments import queries, services
from members.segments.models import Segment

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/"


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


def error(response, status):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["status"] == status
    return body


def test_crud_for_an_operator(alice, tags, store_a):
    client = client_for(alice)
    definition = {"all": [{"tags": {"any": [tags[0].pk]}}, {"field": "stage", "op": "in", "value": ["act"]}]}
    created = client.post(URL, {"name": "Act + t0", "definition": definition}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["store"] is None and body["created_by"] == "alice" and body["definition"] == definition
    detail = f"{URL}{body['id']}/"
    assert client.patch(detail, {"store": store_a.code}, format="json").json()["store"] == "SH01"
    assert client.get(URL).json()["results"][0]["id"] == body["id"]
    assert client.delete(detail).status_code == 204
    assert not Segment.objects.exists()


def test_validation_errors_name_the_node(alice, tags):
    client = client_for(alice)
    definition = {"all": [{"tags": {"any": [tags[0].pk]}}, {"field": "shoe_size", "op": "in", "value": [1]}]}
    response = client.post(URL, {"name": "bad", "definition": definition}, format="json")
    body = error(response, 400)
    assert body["code"] == "validation_error"
    [problem] = body["details"]["definition"]
    assert problem["path"] == "$.all[1].field" and "shoe_size" in problem["message"]
    response = client.post(f"{URL}count/", {"definition": {"tags": {"some": [1]}}}, format="json")
    assert error(response, 400)["details"]["definition"][0]["path"] == "$.tags"


def test_store_roles_see_and_make_their_store_segments(alice, bob, dave, store_a, store_b, tags):
    brand = services.create_segment(actor=alice, name="brand", definition={"all": []})
    theirs = services.create_segment(actor=dave, name="B's", definition={"all": []})
    client = client_for(bob)
    created = client.post(URL, {"name": "mine", "definition": {"all": []}}, format="json")
    assert created.status_code == 201 and created.json()["store"] == "SH01"
    assert error(client.post(URL, {"name": "x", "definition": {"all": []}, "store": "BJ01"}, format="json"),
                 403)["code"] == "permission_denied"
    assert [s["name"] for s in client.get(URL).json()["results"]] == ["mine", "brand"]
    assert client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert client.get(f"{URL}{theirs.pk}/members/").status_code == 404
    assert client.post(f"{URL}{theirs.pk}/snapshots/").status_code == 404
    # Brand-wide segments: readable and usable by store roles, not changeable.
    body = client.get(f"{URL}{brand.pk}/").json()
    assert body["editable"] is False and body["store"] is None
    assert client.get(f"{URL}{created.json()['id']}/").json()["editable"] is True
    assert error(client.patch(f"{URL}{brand.pk}/", {"name": "x"}, format="json"), 403)["code"] == "permission_denied"
    assert error(client.delete(f"{URL}{brand.pk}/"), 403)
    brand.refresh_from_db()
    assert brand.name == "brand"


def test_live_count_and_sample(population, tags, alice, bob):
    definition = {"tags": {"any": [tags[2].pk]}}
    body = client_for(alice).post(f"{URL}count/", {"definition": definition, "sample": 5}, format="json").json()
    assert body["count"] == queries.count(definition, alice) > 5
    assert len(body["sample"]) == 5 and body["sample"][0]["id"] > body["sample"][1]["id"]
    assert body["ms"] >= 0
    mine = client_for(bob).post(f"{URL}count/", {"definition": definition, "sample": 50}, format="json").json()
    assert mine["count"] == queries.count(definition, bob) < body["count"]
    assert {m["home_store"] for m in mine["sample"]} == {"SH01"}


def test_members_are_cursor_paginated_with_bounded_queries(population, tags, alice):
    segment = services.create_segment(actor=alice, name="t1", definition={"tags": {"any": [tags[1].pk]}})
    client = client_for(alice)
    seen = []
    url = f"{URL}{segment.pk}/members/?page_size=100"
    while url:
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(url).json()
        assert len(ctx.captured_queries) <= 8, [q["sql"][:80] for q in ctx.captured_queries]
        seen += [m["id"] for m in page["results"]]
        url = page["next"]
    assert seen == sorted(queries.member_queryset(segment.definition, alice).values_list("id", flat=True),
                          reverse=True)


def test_snapshots_endpoint(population, tags, bob):
    segment = services.create_segment(actor=bob, name="mine", definition={"tags": {"any": [tags[0].pk]}})
    client = client_for(bob)
    taken = client.post(f"{URL}{segment.pk}/snapshots/")
    assert taken.status_code == 201, taken.content
    assert taken.json()["member_count"] == queries.count(segment.definition, bob) > 0
    assert taken.json()["store"] == "SH01" and taken.json()["taken_by"] == "bob"
    listed = client.get(f"{URL}{segment.pk}/snapshots/").json()["results"]
    assert [s["id"] for s in listed] == [taken.json()["id"]]
    recount = client.post(f"{URL}{segment.pk}/recount/").json()
    assert recount["count"] == taken.json()["member_count"]


def test_scopes_of_api_keys(population, tags, key_client, store_b, alice):
    segment = services.create_segment(actor=alice, name="brand", definition={"tags": {"any": [tags[0].pk]}})
    reader = key_client(scopes=["segments:read"])
    assert reader.get(URL).status_code == 200
    assert reader.post(f"{URL}count/", {"definition": {"all": []}}, format="json").status_code == 200
    assert reader.get(f"{URL}filters/").json()["filters"][0]["key"] == "tags"
    assert error(reader.post(URL, {"name": "x", "definition": {"all": []}}, format="json"), 403)
    assert error(reader.get(f"{URL}{segment.pk}/members/"), 403)["message"].endswith("'members:read'.")
    both = key_client(scopes=["segments:read", "members:read"])
    assert both.get(f"{URL}{segment.pk}/members/").status_code == 200
    members_only = key_client(scopes=["members:read"])
    assert error(members_only.post(f"{URL}count/", {"definition": {"all": []}}, format="json"), 403)
    store_key = key_client(scopes=["segments:read", "segments:write"], store=store_b)
    assert store_key.get(f"{URL}{segment.pk}/").json()["editable"] is False  # brand-wide: read-only
    assert store_key.delete(f"{URL}{segment.pk}/").status_code == 403
    body = store_key.post(f"{URL}count/", {"definition": {"all": []}, "sample": 0}, format="json").json()
    assert body["count"] == population.filter(home_store=store_b).count() and body["sample"] == []
    assert store_key.post(URL, {"name": "B", "definition": {"all": []}}, format="json").json()["store"] == "BJ01"


def test_anonymous_is_refused(db):
    assert APIClient().get(URL).status_code in (401, 403)


def test_brand_wide_segments_count_and_list_a_store_managers_part(population, tags, alice, bob):
    definition = {"tags": {"any": [tags[0].pk]}}
    brand = services.create_segment(actor=alice, name="brand", definition=definition)
    services.recount_segment(segment=brand, actor=alice)
    brand.refresh_from_db()
    everyone, mine = queries.count(definition, alice), queries.count(definition, bob)
    assert brand.last_count == everyone > mine > 0
    client = client_for(bob)
    listed = client.get(URL).json()["results"]
    assert listed[0]["last_count"] is None  # the kept figure covers other stores
    assert client.post(f"{URL}{brand.pk}/recount/").json()["count"] == mine
    brand.refresh_from_db()
    assert brand.last_count == everyone  # a store's recount does not overwrite the brand-wide figure
    ids, url = [], f"{URL}{brand.pk}/members/?page_size=500"
    while url:
        page = client.get(url).json()
        ids += [m["id"] for m in page["results"]]
        url = page["next"]
    assert len(ids) == mine
    taken = client.post(f"{URL}{brand.pk}/snapshots/").json()
    assert taken["store"] == "SH01" and taken["member_count"] == mine
    operator_snapshot = services.snapshot_segment(segment=brand, actor=alice)
    seen = [s["id"] for s in client.get(f"{URL}{brand.pk}/snapshots/").json()["results"]]
    assert seen == [taken["id"]] and operator_snapshot.pk not in seen  # the brand-wide one is not theirs
    assert len(client_for(alice).get(f"{URL}{brand.pk}/snapshots/").json()["results"]) == 2
