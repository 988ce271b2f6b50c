"""Order screens per role: list (scoped, searchable, query-count guarded), detail, refund form,
attribution policy, and the member 360 panel on desktop and phone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty.orders import services
from loyalty.orders.models import AttributionPolicy
from tests.loyalty.orders.data import order


@pytest.fixture
def orders(alice, members):
    mine = services.record_order(data=order(external_id="SH-1", member_id=members[0][0].pk), actor=alice)[0]
    theirs = services.record_order(
        data=order(external_id="BJ-1", store="BJ01", member_id=members[1][0].pk), actor=alice
    )[0]
    pending = services.record_order(
        data=order(
            external_id="TM-1",
            channel="tmall",
            lines=None,
            total_amount="59.90",
            buyer={"channel": "tmall", "external_id": "nick"},
        ),
        actor=alice,
    )[0]
    return mine, theirs, pending


def test_operator_list_shows_every_store(client, alice, orders, django_assert_max_num_queries):
    for i in range(20):
        services.record_order(data=order(external_id=f"N{i}"), actor=alice)
    client.force_login(alice)
    with django_assert_max_num_queries(8):
        body = client.get(reverse("order-list")).content.decode()
    assert "SH-1" in body and "BJ-1" in body and "Pending buyer" in body


def test_store_roles_see_only_their_store(client, carol, dave, orders):
    client.force_login(carol)
    body = client.get(reverse("order-list")).content.decode()
    assert "SH-1" in body and "BJ-1" not in body
    assert client.get(reverse("order-detail", args=[orders[1].pk])).status_code == 404
    client.force_login(dave)
    assert "BJ-1" in client.get(reverse("order-list")).content.decode()


def test_search_by_number_and_phone_and_htmx_partial(client, alice, orders):
    client.force_login(alice)
    body = client.get(reverse("order-list"), {"q": "BJ-1"}).content.decode()
    assert "BJ-1" in body and "SH-1" not in body
    body = client.get(reverse("order-list"), {"q": "138 0013 0000"}, HTTP_HX_REQUEST="true").content.decode()
    assert "SH-1" in body and "BJ-1" not in body and "<html" not in body
    assert "TM-1" in client.get(reverse("order-list"), {"pending": "true"}).content.decode()


def test_detail_and_refund_form_for_managers_not_clerks(client, bob, carol, orders):
    mine = orders[0]
    client.force_login(carol)
    body = client.get(reverse("order-detail", args=[mine.pk])).content.decode()
    assert "有机奶粉" in body and "refund-form" not in body
    assert client.post(reverse("order-refund", args=[mine.pk]), {"external_id": "R", "amount": "1"}).status_code == 403
    client.force_login(bob)
    assert "refund-form" in client.get(reverse("order-detail", args=[mine.pk])).content.decode()
    response = client.post(reverse("order-refund", args=[mine.pk]), {"external_id": "R1", "amount": "500"})
    assert response.status_code == 400 and "still refundable" in response.content.decode()
    response = client.post(reverse("order-refund", args=[mine.pk]), {"external_id": "R1", "amount": "58.00"})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "partially_refunded"


def test_attribution_screen_for_operators(client, alice, bob):
    client.force_login(bob)
    assert client.get(reverse("order-attribution")).status_code == 403
    client.force_login(alice)
    assert client.get(reverse("order-attribution")).status_code == 200
    bad = client.post(reverse("order-attribution"), {"rule": "last_served", "window_days": "0"})
    assert bad.status_code == 400
    assert client.post(reverse("order-attribution"), {"rule": "last_served", "window_days": "14"}).status_code == 302
    assert AttributionPolicy.current().window_days == 14


def test_member_panel_on_desktop_and_phone(client, alice, carol, members, orders):
    member = members[0][0]
    services.record_refund(order=orders[0], external_id="R1", amount="58", actor=alice)
    client.force_login(alice)
    body = client.get(reverse("member-detail", args=[member.pk])).content.decode()
    assert 'data-testid="orders-panel"' in body and "¥300.00" in body and "SH-1" in body
    client.force_login(carol)
    body = client.get(reverse("mobile-member-detail", args=[member.pk])).content.decode()
    assert 'data-testid="orders-panel"' in body and "1 order · ¥300.00 spent" in body
