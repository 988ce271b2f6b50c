"""An order of one store bought by a member homed at another: the order is the selling store's and
is credited to the member, but the selling store learns nothing about the member or the other
store's guide; refunds belong to the store of the order."""

from __future__ import annotations

import pytest

from loyalty.orders.models import AttributionRule, Order
from members.models import Member
from scrm import permissions

PHONE_B = "+8613900130000"  # 李0, homed at BJ01, owned by dave (BJ01)


def _order(number="SH-1", **extra):
    return {
        "channel": "pos",
        "external_id": number,
        "placed_at": "2026-11-30T10:00:00+08:00",
        "total_amount": "199.00",
        "phone": PHONE_B,
        **extra,
    }


@pytest.fixture
def key_a(key_client, store_a):
    return key_client(scopes=["orders:read", "orders:write", "members:read"], store=store_a)


@pytest.fixture
def member_b(members):
    return Member.objects.get(phone=PHONE_B)


def test_a_store_records_a_sale_to_another_stores_member_without_learning_who(key_a, member_b, dave, store_a):
    response = key_a.post("/api/v1/orders/", _order(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(external_id="SH-1")
    # Recorded at the selling store and credited to the member (tiers and points follow her)...
    assert order.store_id == store_a.pk and order.member_id == member_b.pk
    # ...but not to her guide at the other store: the sale is SH01's.
    assert order.staff_id is None and order.attribution == AttributionRule.NONE
    # The answer names neither the member nor the other store's guide, nor her full phone.
    assert body["member"] is None and body["staff"] is None
    assert body["buyer"] == {"channel": "phone", "namespace": "", "external_id": "+86 139****0000"}
    assert body["pending_buyer"] is False
    text = response.content.decode()
    assert PHONE_B not in text and str(dave.pk) not in str(body["staff"])


def test_reading_the_order_later_masks_the_buyer_for_the_selling_store_only(
    key_a, key_client, member_b, store_a, store_b, django_assert_max_num_queries
):
    key_a.post("/api/v1/orders/", _order(), format="json")
    order = Order.objects.get(external_id="SH-1")
    detail = key_a.get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["member"] is None and detail["buyer"]["external_id"] == "+86 139****0000"
    with django_assert_max_num_queries(6):
        listed = key_a.get("/api/v1/orders/").json()["results"]
    assert [(o["member"], o["buyer"]["external_id"]) for o in listed] == [(None, "+86 139****0000")]
    # The brand sees everything (full phones given by name: phones:read).
    brand = key_client(scopes=["orders:read", "phones:read"])
    full = brand.get(f"/api/v1/orders/{order.pk}/").json()
    assert full["member"] == member_b.pk and full["buyer"]["external_id"] == PHONE_B
    # The member's home store does not see the other store's order at all.
    key_b = key_client(scopes=["orders:read", "orders:write"], store=store_b)
    assert key_b.get(f"/api/v1/orders/{order.pk}/").status_code == 404


def test_a_batch_names_no_member_of_another_store(key_a, members):
    mine = members[0][0]
    response = key_a.post(
        "/api/v1/orders/batch/",
        {"items": [_order("SH-1"), _order("SH-2", phone=mine.phone)]},
        format="json",
    )
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [row["member"] for row in rows] == [None, mine.pk]
    assert Order.objects.get(external_id="SH-1").member_id == Member.objects.get(phone=PHONE_B).pk


def test_own_members_guide_is_still_credited_at_her_store(key_client, members, store_b, dave):
    key_b = key_client(scopes=["orders:read", "orders:write"], store=store_b)
    body = key_b.post("/api/v1/orders/", _order("BJ-1"), format="json").json()
    assert body["staff"] == dave.pk and body["attribution"] == AttributionRule.OWNER
    assert body["buyer"]["external_id"] == "+86 139****0000" and body["member"] is not None  # a store key: masked


def test_refunds_belong_to_the_store_of_the_order(key_a, key_client, member_b, store_b, client, bob, carol):
    key_a.post("/api/v1/orders/", _order(), format="json")
    order = Order.objects.get(external_id="SH-1")
    refund = {"external_id": "R-1", "amount": "10.00"}
    key_b = key_client(scopes=permissions.available_scopes(store_bound=True), store=store_b)
    assert key_b.post(f"/api/v1/orders/{order.pk}/refunds/", refund, format="json").status_code == 404
    order.refresh_from_db()
    assert order.refunded_amount == 0


def test_clerks_cannot_refund_even_through_the_service(carol, bob, key_a, member_b):
    from loyalty.orders import services
    from scrm.errors import Forbidden

    key_a.post("/api/v1/orders/", _order(), format="json")
    order = Order.objects.get(external_id="SH-1")
    with pytest.raises(Forbidden):
        services.record_refund(order=order, external_id="R-1", amount="10", actor=carol)
    refund, created = services.record_refund(order=order, external_id="R-1", amount="10", actor=bob)
    assert created and refund.amount == 10
