"""One API style: stores named and filtered by code everywhere, path parameters named alike, the
schema listing only routes that answer, and `q` finding a member by any identity (scoped)."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command

from loyalty.orders import services as orders
from members.services import identities
from scrm.models import Region, Store
from tests.loyalty.orders.data import order

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_alice(api_client, alice):
    api_client.force_authenticate(alice)
    return api_client


@pytest.fixture(scope="module")
def schema_paths(django_db_blocker, tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(out))
    return yaml.safe_load(out.read_text())["paths"]


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_members_and_orders_are_filtered_by_store_code(as_alice, members, alice, store_a):
    a, b = members
    assert _ids(as_alice.get("/api/v1/members/", {"store": "SH01"})) == {m.pk for m in a}
    orders.record_order(data=order(external_id="A1"), actor=alice)
    orders.record_order(data=order(external_id="B1", store="BJ01"), actor=alice)
    listed = as_alice.get("/api/v1/orders/", {"store": "BJ01"}).json()["results"]
    assert [(o["external_id"], o["store"], o["store_code"]) for o in listed] == [("B1", "BJ01", "BJ01")]
    # An older client's numeric id is still read, as documented, when no store has it as a code.
    assert _ids(as_alice.get("/api/v1/members/", {"store": str(store_a.pk)})) == {m.pk for m in a}


def test_an_unknown_or_ambiguous_store_is_refused(as_alice, members, store_a):
    response = as_alice.get("/api/v1/members/", {"store": "NOPE"})
    assert response.status_code == 400
    assert "code" in response.json()["error"]["details"]["store"][0]
    # A store whose code is another store's id: the value names two stores, so it is refused.
    Store.objects.create(code=str(store_a.pk), name="Numbered", region=Region.objects.first())
    response = as_alice.get("/api/v1/orders/", {"store": str(store_a.pk)})
    assert response.status_code == 400
    assert "send the code" in response.json()["error"]["details"]["store"][0]


# A nested resource's parent is named after its collection: /members/{member_id}/notes/{id}/.
PARENTS = {"members": "member_id", "campaigns": "campaign_id", "communities": "community_id", "events": "event_id",
           "groups": "group_id", "creators": "creator_id", "posts": "post_id", "topics": "topic_id"}


def test_path_parameters_are_id_for_the_resource_and_named_after_the_collection_for_its_parent(schema_paths):
    for path in schema_paths:
        pairs = re.findall(r"/([\w-]+)/\{(\w+)\}", path)
        assert len(pairs) == len(re.findall(r"\{(\w+)\}", path)), path
        for index, (collection, name) in enumerate(pairs):
            if name == "id":
                assert index == len(pairs) - 1, path  # the resource's own id comes last
            else:
                assert PARENTS.get(collection) == name, path
    names = {name for path in schema_paths for name in re.findall(r"\{(\w+)\}", path)}
    assert {"id", "member_id"} <= names <= {"id", *PARENTS.values()}


def test_the_schema_lists_only_routes_that_answer(schema_paths, as_alice, members):
    member = members[0][0]
    for path, operations in schema_paths.items():
        url = re.sub(r"\{\w+\}", "1", path.replace("{member_id}", str(member.pk)))
        response = as_alice.options(url)
        assert response.status_code != 404 or response.json()["error"]["message"] != "No API endpoint at this address."
        if response.status_code >= 400:  # the route exists but refuses OPTIONS itself (a 403 policy route)
            continue
        allowed = {m.strip().lower() for m in response.get("Allow", "").split(",")}
        documented = {m for m in operations if m in {"get", "post", "put", "patch", "delete"}}
        assert documented <= allowed, (path, documented, allowed)
    for gone in ("/api/v1/tier-ladder/", "/api/v1/points-policy/", "/api/v1/points-policy/1/",
                 "/api/v1/tier-ladder/1/"):
        assert as_alice.get(gone).status_code == 404, gone
    assert as_alice.put("/api/v1/points-policy/current/", {}, format="json").status_code == 405


def test_q_finds_a_member_by_a_phone_identity_and_by_any_identity_scoped(api_client, alice, carol, members):
    a, b = members
    identities.add_identity(member=a[1], channel="phone", namespace="", external_id="13912345678", actor=alice)
    identities.add_identity(member=a[2], channel="wecom", namespace="", external_id="wmXyZ42", actor=alice)
    identities.add_identity(member=b[0], channel="tmall", namespace="shop1", external_id="nick-b", actor=alice)
    api_client.force_authenticate(alice)
    assert _ids(api_client.post("/api/v1/members/search/", {"q": "139 1234 5678"}, format="json")) == {a[1].pk}
    assert _ids(api_client.post("/api/v1/members/search/", {"q": "5678"}, format="json")) == {a[1].pk}
    assert _ids(api_client.get("/api/v1/members/", {"q": "wmXyZ42"})) == {a[2].pk}
    assert _ids(api_client.get("/api/v1/members/", {"q": "nick-b"})) == {b[0].pk}
    by_profile_phone = api_client.post("/api/v1/members/search/", {"q": a[0].phone}, format="json")
    assert _ids(by_profile_phone) == {a[0].pk}  # the profile phone, as before
    api_client.force_authenticate(carol)  # store A: another store's member stays out of reach
    assert _ids(api_client.get("/api/v1/members/", {"q": "nick-b"})) == set()
