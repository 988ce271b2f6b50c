"""The batch path's shortcuts give what the general path gives: the order.linked events a batch
writes from the rows it recorded are those read back from the orders and members, whatever the
order numbers, amounts and buyers hold; the plain-value shortcuts of amounts and text give the value
and the errors of the full checks."""

from __future__ import annotations

import pytest

from loyalty.orders import services
from loyalty.orders.models import Order
from loyalty.orders.services import cleaning, ingest, linking
from members.models import Identity, Member
from scrm.models import Event
from scrm.sql import array
from tests.loyalty.orders.data import order

AMOUNTS = [
    "199.00", "199", "7.5", "007.50", "0", "00", "0.00", "-0", "-0.00", "9999999999.99", "9999999999",
    "10000000000", "99999999999.5", "1.005", "1.", ".5", "+5", " 1.50 ", "5\n", "1,000.00", "1e2", "1E+2",
    "0E+20", "NaN", "Infinity", "-1", "", "abc", "١٢٣", "٣.٥٠", "１２", "9" * 40,
    None, True, False, 0, 1, 120, 9999999999, 10000000000, -5, 1.5, 0.1, 1e20, float("nan"), [], {},
]
TEXTS = [
    None, "", "   ", "abc", " abc ", "\u3000中文\u3000", "x" * 32, "x" * 33, f" {'x' * 32} ", 5, 0, True, 3.5, ["a"],
]


@pytest.mark.parametrize("allow_zero", [True, False])
@pytest.mark.parametrize("raw", AMOUNTS, ids=repr)
def test_plain_amounts_get_the_value_and_error_of_the_full_check(raw, allow_zero):
    quick = cleaning.parse_amount(raw, allow_zero=allow_zero)
    full = cleaning._parse_amount(raw, allow_zero=allow_zero)
    assert quick == full
    assert str(quick[0]) == str(full[0])  # the same digits too (events carry the total as text)


@pytest.mark.parametrize("required", [True, False])
@pytest.mark.parametrize("raw", TEXTS, ids=repr)
def test_plain_text_gets_the_value_and_error_of_the_full_check(raw, required):
    quick_errors, full_errors = {}, {}
    quick = cleaning.clean_text(raw, "store", quick_errors, max_length=32, required=required)
    full = cleaning._clean_text(raw, "store", full_errors, max_length=32, required=required)
    assert (quick, quick_errors) == (full, full_errors)


def linked_events():
    return [
        (e.member_id, e.store_id, e.data)
        for e in Event.objects.filter(type=linking.ORDER_LINKED).order_by("id")
    ]


@pytest.mark.parametrize(
    "values",
    [
        ["pos", "tmall"],
        ["", " ", "NULL", "null", "a,b", "{x}", "中文", "tab\there"],
        ['say "hi"', "plain"],
        ["back\\slash", "plain"],
        ['\\"', '"', "\\"],
        [],
    ],
    ids=repr,
)
def test_text_columns_are_the_literal_array_makes(values):
    assert ingest._text_literal(values) == array(values)


@pytest.mark.django_db
def test_recorded_events_are_those_read_back_from_the_orders(alice, members, store_b):
    (a0, a1, a2), (b0, _b1) = members
    Member.objects.filter(pk=a1.pk).update(merged_into=b0)  # a duplicate: its orders go to b0 (store B)
    homeless = Member.objects.create(name="无店", phone="+8613700000001", home_store=None)
    Identity.objects.create(member=a2, channel="tmall", namespace="shop", external_id='nick "q" \\ 你好')
    items = [
        order(external_id='SH01-"quoted"', phone="138 0013 0000", total_amount="0.5", lines=None),
        order(external_id="SH01-\\back\\slash", member_id=a1.pk, total_amount="9999999999.99", lines=None),
        order(external_id="订单-一号", member_id=homeless.pk, total_amount="-0", lines=None),
        order(external_id="SH01-int", member_id=b0.pk, total_amount=120, lines=None, currency="cny"),
        order(channel="tmall", external_id="T{1,2}", store=None, total_amount="1e2", lines=None,
              buyer={"channel": "tmall", "namespace": "shop", "external_id": 'nick "q" \\ 你好'}),
        order(channel="tmall", external_id="T-pending", store=None, total_amount="5", lines=None,
              buyer={"channel": "tmall", "namespace": "shop", "external_id": "nobody"}),
    ]
    result = services.record_orders(items=items, actor=alice)
    assert result.created == 6 and not result.errors
    recorded = linked_events()
    assert len(recorded) == 5  # the pending buyer's order waits for its member

    Event.objects.filter(type=linking.ORDER_LINKED).delete()
    linking.emit_linked(Order.objects.values_list("id", flat=True))
    assert recorded == linked_events()
    totals = {e[2]["order"]["external_id"]: e[2]["order"]["total"] for e in recorded}
    assert totals["订单-一号"] == "0.00" and totals["T{1,2}"] == "100.00" and totals["SH01-int"] == "120.00"
    assert {e[0]: e[1] for e in recorded}[b0.pk] == store_b.pk
