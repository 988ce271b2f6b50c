"""An order number sent again: the same content answers the order recorded (200), other content is
a 409 naming each field that differs, single or in a batch, and nothing changes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from loyalty.orders import services
from loyalty.orders.models import Order, OrderLine
from scrm.errors import Conflict
from tests.loyalty.orders.data import order


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def writer(key_client):
    return key_client(scopes=["orders:read", "orders:write"])


def test_a_resend_with_another_amount_is_a_409_naming_the_fields(writer, members):
    first = post(writer, "/api/v1/orders/", order())
    assert first.status_code == 201
    response = post(writer, "/api/v1/orders/", order(total_amount="420.00", lines=None))
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "order_conflict"
    assert set(error["details"]) == {"total_amount", "lines"}
    assert "358.00" in error["details"]["total_amount"][0] and "420.00" in error["details"]["total_amount"][0]
    assert "SH01-0001" in error["message"]
    order_row = Order.objects.get()
    assert order_row.total_amount == Decimal("358.00") and OrderLine.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "USD"}, "currency"),
        ({"placed_at": "2026-11-20T15:03:00+08:00"}, "placed_at"),
        ({"store": "BJ01"}, "store"),
        ({"referral_code": "FRIEND1"}, "referral_code"),
        ({"phone": "13900130000"}, "buyer"),
    ],
)
def test_each_stated_field_is_compared(alice, members, settings, change, field):
    settings.SIYU_CURRENCIES = ["CNY", "USD"]
    services.record_order(data=order(phone="13800130000"), actor=alice)
    with pytest.raises(Conflict) as refused:
        services.record_order(data=order(**{"phone": "13800130000", **change}), actor=alice)
    assert set(refused.value.details) == {field}


def test_the_same_instant_in_another_offset_is_the_same_order(alice, members):
    first, _ = services.record_order(data=order(), actor=alice)
    again, created = services.record_order(data=order(placed_at="2026-11-20T06:03:00Z"), actor=alice)
    assert not created and again.pk == first.pk


def test_a_batch_reports_conflicts_per_item_and_records_the_rest(writer, members):
    post(writer, "/api/v1/orders/", order(external_id="K1"))
    items = [
        order(external_id="K1"),  # same content: existing
        order(external_id="K1", total_amount="1.00", lines=None),  # other content: conflict
        order(external_id="K2"),
        order(external_id="K2", total_amount="9.00", lines=None),  # differs from item 2 of this batch
    ]
    body = post(writer, "/api/v1/orders/batch/", {"items": items}).json()
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "existing"),
        (1, "conflict"),
        (2, "created"),
        (3, "conflict"),
    ]
    assert (body["created"], body["existing"], body["conflict"], body["invalid"]) == (1, 1, 2, 0)
    assert set(body["results"][1]["errors"]) == {"total_amount", "lines"}
    assert Order.objects.get(external_id="K2").total_amount == Decimal("358.00")


def test_an_atomic_batch_with_a_conflict_is_a_409_and_records_nothing(writer, members):
    post(writer, "/api/v1/orders/", order(external_id="K1"))
    items = [order(external_id="K9"), order(external_id="K1", total_amount="1.00", lines=None)]
    response = post(writer, "/api/v1/orders/batch/", {"items": items, "atomic": True})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "order_conflict" and set(error["details"]["items"]) == {"1"}
    assert not Order.objects.filter(external_id="K9").exists()
    # an invalid item is refused before anything is compared: a 400 naming it
    items.append(order(external_id="K8", total_amount="-1"))
    response = post(writer, "/api/v1/orders/batch/", {"items": items, "atomic": True})
    assert response.status_code == 400 and set(response.json()["error"]["details"]["items"]) == {"2"}
    assert Order.objects.count() == 1
