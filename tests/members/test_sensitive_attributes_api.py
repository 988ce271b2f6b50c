"""Sensitive attribute values (health, a child's data) reach the same people through the API as on
the member page and in the audience builder: operators, store managers and brand-wide keys."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from members.models import AttributeDefinition

pytestmark = pytest.mark.django_db


@pytest.fixture
def profiled(members):
    AttributeDefinition.objects.create(code="dialect", label="Dialect", type="text")
    AttributeDefinition.objects.create(code="allergy", label="Allergy", type="text", sensitive=True)
    AttributeDefinition.objects.create(code="child_month", label="Child born", type="month", requires_guardian=True)
    member = members[0][0]
    member.attributes = {"dialect": "吴语", "allergy": "peanuts", "child_month": "2025-03"}
    member.save(update_fields=["attributes"])
    return member


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(("who", "sees"), [("alice", True), ("bob", True), ("carol", False)])
def test_member_detail_and_attributes_follow_the_role(request, profiled, who, sees):
    client = as_user(request.getfixturevalue(who))
    for url in (f"/api/v1/members/{profiled.pk}/", f"/api/v1/members/{profiled.pk}/attributes/"):
        response = client.get(url)
        assert response.status_code == 200, response.content
        attributes = response.json()["attributes"] if url.endswith(f"{profiled.pk}/") else response.json()
        assert attributes["dialect"] == "吴语"
        assert ("allergy" in attributes) is sees
        assert ("child_month" in attributes) is sees


def test_store_bound_key_does_not_read_sensitive_values_but_a_brand_wide_key_does(key_client, profiled, store_a):
    bound = key_client(scopes=["members:read"], store=store_a)
    attributes = bound.get(f"/api/v1/members/{profiled.pk}/").json()["attributes"]
    assert attributes == {"dialect": "吴语"}

    brand = key_client(scopes=["members:read"])
    attributes = brand.get(f"/api/v1/members/{profiled.pk}/").json()["attributes"]
    assert attributes["allergy"] == "peanuts"


def test_a_clerk_who_writes_an_attribute_does_not_read_the_sensitive_ones_back(profiled, carol):
    response = as_user(carol).patch(f"/api/v1/members/{profiled.pk}/attributes/", {"dialect": "粤语"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"dialect": "粤语"}
    profiled.refresh_from_db()
    assert profiled.attributes["allergy"] == "peanuts"
