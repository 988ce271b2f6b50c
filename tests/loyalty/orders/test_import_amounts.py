"""An amount of hundreds of digits is an amount too large, named on its field or row, in the API and
in a file import alike: never a crash (decimal.InvalidOperation), never echoed whole."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from loyalty.orders import imports, services
from loyalty.orders.models import Order
from tests.loyalty.orders.data import order

HUGE = "9" * 900


def without_lines(**over):
    body = order(**over)
    body.pop("lines")
    return body


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("raw", [HUGE, "1" + "0" * 899 + ".00", "9E+900", int(HUGE)])
def test_parse_amount_calls_a_huge_amount_too_large(raw):
    value, problem = services.parse_amount(raw)
    assert value is None and "too large" in problem
    assert len(problem) < 300


def test_the_largest_amount_still_passes():
    assert services.parse_amount("9999999999.99") == (services.MAX_AMOUNT, None)
    assert "too large" in services.parse_amount("10000000000")[1]


def test_api_answers_400_naming_the_amount(key_client, stores):
    writer = key_client(scopes=["orders:read", "orders:write"])
    response = post(writer, "/api/v1/orders/", without_lines(total_amount=HUGE))
    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    # Refused by the service (parse_amount: too large) or by the schema's shape check before it
    # (more digits than an amount has): a 400 on the field either way, never echoing the value.
    assert list(details) == ["total_amount"] and len(details["total_amount"][0]) < 300
    lines = [{"name": "奶粉", "amount": HUGE}]
    response = post(writer, "/api/v1/orders/", order(total_amount="1.00", lines=lines))
    assert response.status_code == 400, response.content
    assert "lines" in response.json()["error"]["details"] and HUGE not in response.content.decode()
    response = post(writer, "/api/v1/orders/batch/", {"items": [without_lines(external_id="B1",
                                                                              total_amount=HUGE)]})
    assert response.status_code == 200 and response.json()["results"][0]["status"] == "invalid"
    assert not Order.objects.exists()


def test_an_import_row_with_a_huge_amount_is_a_row_error(alice, stores):
    text = ("order_number,channel,placed_at,store,total_amount,product,line_amount\n"
            "A1,pos,2026-11-20 10:00,SH01,100.00,奶粉,100.00\n"
            f"A2,pos,2026-11-20 10:00,SH01,{HUGE},,\n"
            f"A3,pos,2026-11-20 10:00,SH01,,玩具,{HUGE}\n")
    upload = SimpleUploadedFile("orders.csv", text.encode(), content_type="text/csv")
    report = imports.import_orders(upload=upload, mode=imports.Mode.VALID, actor=alice)
    errors = {(e.row, e.column): e.message for e in report.errors}
    assert set(errors) == {(3, "total_amount"), (4, "line_amount")}, errors
    assert all("too large" in message for message in errors.values())
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A1"]
