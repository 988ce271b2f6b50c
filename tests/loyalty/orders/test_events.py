"""order.linked: an order recorded with its buyer known, or a pending order linked later to the
member holding its buyer's identity, writes one event in that transaction; a repeat, a pending order
and a refused batch write none."""

from __future__ import annotations

import pytest

from loyalty.orders import services
from members.models import Identity
from scrm.errors import InvalidInput
from scrm.models import Event
from tests.loyalty.orders.data import order

pytestmark = pytest.mark.django_db


def linked():
    return [(e.member_id, e.store_id, e.data) for e in Event.objects.filter(type="order.linked").order_by("id")]


def test_an_order_recorded_with_its_buyer_is_linked_once(alice, members):
    member = members[0][0]
    recorded, _created = services.record_order(data=order(phone="138 0013 0000"), actor=alice)
    services.record_order(data=order(phone="138 0013 0000"), actor=alice)  # the same order number again
    assert linked() == [(member.pk, member.home_store_id, {"order": {
        "id": recorded.pk, "channel": "pos", "external_id": "SH01-0001", "total": "358.00", "currency": "CNY"}})]


def test_a_pending_order_is_linked_when_its_buyer_appears(alice, members):
    data = order(channel="tmall", external_id="T1", store=None, lines=None, total_amount="99.00",
                 buyer={"channel": "tmall", "namespace": "flagship", "external_id": "tb_1"})
    pending, _created = services.record_order(data=data, actor=alice)
    assert linked() == []
    member = members[1][0]
    identity = Identity.objects.create(member=member, channel="tmall", namespace="flagship", external_id="tb_1")
    assert services.link_orders_for_identities(identity_ids=[identity.pk]) == 1
    assert services.link_orders_for_identities(identity_ids=[identity.pk]) == 0
    assert linked() == [(member.pk, member.home_store_id, {"order": {
        "id": pending.pk, "channel": "tmall", "external_id": "T1", "total": "99.00", "currency": "CNY"}})]


def test_a_refused_batch_links_nothing(alice, members):
    with pytest.raises(InvalidInput):
        services.record_orders(items=[order(phone="138 0013 0000", external_id="A1"),
                                      order(external_id="A2", total_amount="-1")], actor=alice, atomic=True)
    assert linked() == []


def test_a_batch_writes_one_event_per_order_with_a_member(alice, members):
    (a0, a1, _a2), _b = members
    items = [order(external_id=f"B{i}", phone=phone) for i, phone in enumerate(["138 0013 0000", "138 0013 0001"])]
    items.append(order(external_id="B9", store=None, channel="tmall",
                       buyer={"channel": "tmall", "namespace": "", "external_id": "nobody"}))
    services.record_orders(items=items, actor=alice)
    assert sorted(m for m, _s, _d in linked()) == sorted([a0.pk, a1.pk])
