"""The batch path's shortcuts give what the general path gives: the order.linked events a batch
writes from the rows it recorded are those read back from the orders and members, whatever the
order numbers, amounts and buyers hold."""

from __future__ import annotations

import pytest

from loyalty.orders import services
from loyalty.orders.models import Order
from loyalty.orders.services import linking
from members.models import Identity, Member
from scrm.models import Event
from tests.loyalty.orders.data import order

pytestmark = pytest.mark.django_db


def linked_events():
    return [
        (e.member_id, e.store_id, e.data)
        for e in Event.objects.filter(type=linking.ORDER_LINKED).order_by("id")
    ]


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
