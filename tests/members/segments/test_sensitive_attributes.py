"""Sensitive attributes in the segments API: GET /segments/filters/ lists them only for callers who
may see them (operators, store managers, brand-wide keys; not store staff or store-bound keys), as
the audience builder does, and a definition using one is refused for the others like an unknown
attribute."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from members.models import AttributeDefinition, Member
from members.segments.forms import AudienceForm
from members.segments.models import Segment

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/"
EVERY = {"favourite_cacao", "allergy", "child_birth_month"}
PLAIN = {"favourite_cacao"}


@pytest.fixture
def definitions(db):
    AttributeDefinition.objects.create(code="favourite_cacao", label="偏好可可含量", type="choice",
                                       choices=["55%", "70%"])
    AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)
    AttributeDefinition.objects.create(code="child_birth_month", label="孩子出生年月", type="month",
                                       requires_guardian=True)
    AttributeDefinition.objects.create(code="retired", label="停用", type="text", is_active=False)


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


def attribute_codes(response) -> set[str]:
    assert response.status_code == 200, response.content
    [attribute] = [f for f in response.json()["filters"] if f["key"] == "attribute"]
    return {choice["value"] for choice in attribute["arg"]["choices"]}


def builder_codes(user) -> set[str]:
    return set(AudienceForm(user=user)._attributes())


@pytest.mark.parametrize(("who", "expected"), [("alice", EVERY), ("bob", EVERY), ("carol", PLAIN)])
def test_filters_list_sensitive_attributes_only_for_those_who_see_them(request, definitions, who, expected):
    user = request.getfixturevalue(who)
    assert attribute_codes(client_for(user).get(f"{URL}filters/")) == expected
    assert builder_codes(user) == expected  # the same choices as the audience builder offers


def test_filters_for_api_keys(definitions, key_client, store_a):
    assert attribute_codes(key_client(scopes=["segments:read"]).get(f"{URL}filters/")) == EVERY
    assert attribute_codes(key_client(scopes=["segments:read"], store=store_a).get(f"{URL}filters/")) == PLAIN


def test_filters_cost_the_same_with_more_attributes(definitions, carol):
    client = client_for(carol)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            client.get(f"{URL}filters/")
        return len(captured)

    few = queries()
    for i in range(20):
        AttributeDefinition.objects.create(code=f"a{i}", label=f"a{i}", type="text", sensitive=bool(i % 2))
    assert queries() == few
    assert len(attribute_codes(client.get(f"{URL}filters/"))) == 1 + 10


SENSITIVE = {"all": [{"field": "stage", "op": "in", "value": ["act"]},
                     {"attribute": "allergy", "op": "eq", "value": "花生"}]}


def refusal(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    [problem] = body["details"]["definition"]
    return problem


def test_store_staff_cannot_segment_by_a_sensitive_attribute(definitions, carol, store_a):
    Member.objects.create(name="甲", home_store=store_a, stage="act", attributes={"allergy": "花生"})
    client = client_for(carol)
    hidden = refusal(client.post(f"{URL}count/", {"definition": SENSITIVE}, format="json"))
    unknown = refusal(client.post(f"{URL}count/", {"definition": {"all": [
        {"field": "stage", "op": "in", "value": ["act"]}, {"attribute": "shoe", "op": "eq", "value": "x"}]}},
        format="json"))
    assert hidden["path"] == unknown["path"] == "$.all[1].attribute"
    assert hidden["message"] == unknown["message"].replace("shoe", "allergy")  # no hint that it exists
    refusal(client.post(URL, {"name": "过敏", "definition": SENSITIVE}, format="json"))
    guardian = {"attribute": "child_birth_month", "op": "is_set", "value": True}
    assert refusal(client.post(f"{URL}count/", {"definition": guardian}, format="json"))["path"] == "$.attribute"
    assert not Segment.objects.exists()
    plain = {"attribute": "favourite_cacao", "op": "is_set", "value": True}
    assert client.post(f"{URL}count/", {"definition": plain}, format="json").status_code == 200


def test_managers_operators_and_brand_keys_segment_by_sensitive_attributes(definitions, alice, bob, store_a,
                                                                           key_client):
    Member.objects.create(name="甲", home_store=store_a, stage="act", attributes={"allergy": "花生"})
    for client in (client_for(alice), client_for(bob), key_client(scopes=["segments:read"])):
        response = client.post(f"{URL}count/", {"definition": SENSITIVE, "sample": 0}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["count"] == 1
    assert client_for(bob).post(URL, {"name": "过敏", "definition": SENSITIVE}, format="json").status_code == 201
    store_key = key_client(scopes=["segments:read"], store=store_a)
    assert refusal(store_key.post(f"{URL}count/", {"definition": SENSITIVE}, format="json"))["path"] == \
        "$.all[1].attribute"
