"""The tiers segment filters, through the segments API count (as a builder or campaign uses them)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from loyalty.tiers import services

from .conftest import place

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/count/"


def count(user, definition):
    client = APIClient()
    client.force_login(user)
    response = client.post(URL, {"definition": definition}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["count"]


@pytest.fixture
def shoppers(ladder, members):
    (a0, a1, a2), (b0, b1) = members
    place(a0, 300, days_ago=5)
    place(a0, 300, days_ago=50)  # a0: 600 in 365 days, 2 orders, last 5 days ago
    place(a1, 1500, days_ago=100)  # a1: 1500, one order 100 days ago
    place(a2, 6000, days_ago=200)
    place(a2, 500, days_ago=20, refunded=500)  # refunded in full: no spend, not counted as an order
    place(b0, 2500, days_ago=3)
    # b1 never ordered
    services.recalculate_tiers()
    return members


def test_tier_filters(shoppers, alice, bob, levels):
    entry, middle, top = levels
    assert count(alice, {"field": "tier", "op": "in", "value": [middle.pk]}) == 2  # a1, b0
    assert count(alice, {"field": "tier", "op": "gte", "value": middle.pk}) == 3
    assert count(alice, {"field": "tier", "op": "not_in", "value": [entry.pk]}) == 3
    assert count(bob, {"field": "tier", "op": "gte", "value": middle.pk}) == 2  # store A only


def test_net_spend_between(shoppers, alice):
    assert count(alice, {"field": "net_spend", "op": "between", "value": {"days": 365, "min": 500, "max": 2000}}) == 2
    assert count(alice, {"field": "net_spend", "op": "between", "value": {"days": 30, "min": 1}}) == 2  # a0, b0
    # No lower bound: members who never ordered are in.
    assert count(alice, {"field": "net_spend", "op": "between", "value": {"days": 365, "max": 1000}}) == 2  # a0, b1


def test_last_order_and_order_count(shoppers, alice):
    assert count(alice, {"field": "last_order", "op": "within_days", "value": 30}) == 3  # a0, a2 (refunded), b0
    assert count(alice, {"field": "last_order", "op": "not_within_days", "value": 30}) == 2  # a1, b1 (never)
    assert count(alice, {"field": "order_count", "op": "between", "value": {"days": 365, "min": 2}}) == 1  # a0
    assert (
        count(
            alice,
            {
                "all": [
                    {"field": "order_count", "op": "between", "value": {"days": 365, "min": 1, "max": 1}},
                    {"field": "tier", "op": "gte", "value": shoppers and services.get_ladder().levels.get(rank=3).pk},
                ]
            },
        )
        == 1
    )  # a2


@pytest.mark.parametrize(
    ("leaf", "path"),
    [
        ({"field": "tier", "op": "in", "value": [999999]}, "$.value"),
        ({"field": "net_spend", "op": "between", "value": {"days": 0, "min": 1}}, "$.value.days"),
        ({"field": "net_spend", "op": "between", "value": {"days": 30}}, "$.value"),
        ({"field": "net_spend", "op": "between", "value": {"days": 30, "min": 9, "max": 1}}, "$.value.min"),
        ({"field": "order_count", "op": "between", "value": {"days": 30, "min": 1.5}}, "$.value.min"),
        ({"field": "last_order", "op": "within_days", "value": 0}, "$.value"),
    ],
)
def test_bad_values_name_the_node(alice, ladder, leaf, path):
    client = APIClient()
    client.force_login(alice)
    response = client.post(URL, {"definition": leaf}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["definition"][0]["path"] == path
