"""Orders API: scopes and stores, 201 new / 200 existing, batches with per-item results, refunds,
filters with a query-count guard, the attribution policy, the one error shape, the OpenAPI schema."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from loyalty.orders import services
from loyalty.orders.models import Order
from members.models import Identity
from tests.loyalty.orders.data import order


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def error(response, status):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["status"] == status
    return body


@pytest.fixture
def writer(key_client):
    return key_client(scopes=["orders:read", "orders:write"])


def test_create_then_duplicate_answers_200_with_existing(writer, members):
    first = post(writer, "/api/v1/orders/", order(phone="13800130000"))
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["member"] == members[0][0].pk and body["store_code"] == "SH01"
    assert [line["sku"] for line in body["lines"]] == ["MP-900", "DP-L"]
    assert body["net_amount"] == "358.00" and body["pending_buyer"] is False
    again = post(writer, "/api/v1/orders/", order(phone="13800130000"))
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["total_amount"] == "358.00"
    assert Order.objects.count() == 1


def test_bad_single_order_is_400_naming_fields(writer, stores):
    # A negative amount breaks the schema (minimum 0): refused before the service looks at the rest.
    body = error(post(writer, "/api/v1/orders/", order(total_amount="-3", currency="EUR", lines=None)), 400)
    assert body["code"] == "validation_error"
    assert set(body["details"]) == {"total_amount"}
    body = error(post(writer, "/api/v1/orders/", order(total_amount="3", currency="EUR", lines=None)), 400)
    assert set(body["details"]) == {"currency"}
    body = error(post(writer, "/api/v1/orders/", [order()]), 400)
    assert "non_field_errors" in body["details"]
    assert not Order.objects.exists()


def test_batch_per_item_results(writer, members):
    items = [
        order(external_id="B1"),
        order(external_id="B2", store="NOPE"),
        order(external_id="B1"),
        order(
            external_id="B3",
            channel="tmall",
            store=None,
            lines=None,
            total_amount="10",
            buyer={"channel": "tmall", "namespace": "shop", "external_id": "nick"},
        ),
    ]
    response = post(writer, "/api/v1/orders/batch/", {"items": items})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["existing"], body["conflict"], body["invalid"]) == (2, 1, 0, 1)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [(0, "created"), (1, "invalid"), (2, "existing"), (3, "created")]
    assert body["results"][2]["id"] == body["results"][0]["id"]
    assert "NOPE" in body["results"][1]["errors"]["store"][0]
    assert body["results"][3]["member"] is None
    # a retried sync of the same batch records nothing new
    again = post(writer, "/api/v1/orders/batch/", {"items": items}).json()
    assert (again["created"], again["existing"], again["invalid"]) == (0, 3, 1)
    assert Order.objects.count() == 2


def test_atomic_batch_is_400_and_writes_nothing(writer, stores):
    items = [order(external_id="C1"), order(external_id="C2", placed_at="2026-13-45")]
    body = error(post(writer, "/api/v1/orders/batch/", {"items": items, "atomic": True}), 400)
    assert "placed_at" in body["details"]["items"]["1"]
    assert not Order.objects.exists()
    error(post(writer, "/api/v1/orders/batch/", {"items": items, "atomic": "yes"}), 400)


def test_scopes_and_stores(key_client, store_a, store_b, members, alice):
    services.record_order(data=order(external_id="A"), actor=alice)
    services.record_order(data=order(external_id="B", store="BJ01"), actor=alice)
    reader = key_client(scopes=["orders:read"])
    error(post(reader, "/api/v1/orders/", order(external_id="Z")), 403)
    store_key = key_client(scopes=["orders:read", "orders:write"], store=store_a)
    listed = store_key.get("/api/v1/orders/").json()["results"]
    assert [o["external_id"] for o in listed] == ["A"]
    other = Order.objects.get(external_id="B")
    error(store_key.get(f"/api/v1/orders/{other.pk}/"), 404)
    error(post(store_key, f"/api/v1/orders/{other.pk}/refunds/", {"external_id": "R", "amount": "1"}), 404)
    created = post(store_key, "/api/v1/orders/", order(external_id="C", store=None))
    assert created.status_code == 201 and created.json()["store_code"] == "SH01"


def test_session_roles(client, carol, dave, alice, members):
    services.record_order(data=order(external_id="A"), actor=alice)
    client.force_login(dave)
    assert client.get("/api/v1/orders/").json()["results"] == []
    client.force_login(carol)
    assert len(client.get("/api/v1/orders/").json()["results"]) == 1


def test_list_filters_and_query_count(writer, alice, members, django_assert_max_num_queries):
    member = members[0][0]
    for i in range(30):
        services.record_order(
            data=order(
                external_id=f"L{i}",
                member_id=member.pk if i % 2 else None,
                placed_at=f"2026-10-{i % 28 + 1:02d}T10:00:00+08:00",
            ),
            actor=alice,
        )
    with django_assert_max_num_queries(4):
        page = writer.get("/api/v1/orders/?page_size=100").json()
    assert len(page["results"]) == 30
    assert len(writer.get(f"/api/v1/orders/?member={member.pk}").json()["results"]) == 15
    assert len(writer.get("/api/v1/orders/?pending=true").json()["results"]) == 15
    window = writer.get(
        "/api/v1/orders/?placed_after=2026-10-05T00:00:00%2B08:00&placed_before=2026-10-07T00:00:00%2B08:00"
    ).json()["results"]
    assert sorted(o["external_id"] for o in window) == ["L4", "L5"]
    assert [o["external_id"] for o in writer.get("/api/v1/orders/?q=L7").json()["results"]] == ["L7"]
    by_phone = writer.get("/api/v1/orders/?q=138-0013-0000").json()["results"]
    assert len(by_phone) == 15
    assert writer.get("/api/v1/orders/?channel=tmall").json()["results"] == []
    error(writer.get("/api/v1/orders/?status=lost"), 400)


def test_refund_endpoint(writer, alice, members):
    recorded, _ = services.record_order(data=order(), actor=alice)
    url = f"/api/v1/orders/{recorded.pk}/refunds/"
    line = recorded.lines.get(sku="DP-L").pk
    response = post(writer, url, {"external_id": "R1", "amount": "20.00", "line": line, "reason": "少发"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["order"]["status"] == "partially_refunded" and body["order"]["net_amount"] == "338.00"
    assert body["order"]["lines"][1]["refunded_amount"] == "20.00"
    assert post(writer, url, {"external_id": "R1", "amount": "20.00"}).status_code == 200
    assert error(post(writer, url, {"external_id": "R1", "amount": "21.00"}), 409)["code"] == "refund_number_taken"
    body = error(post(writer, url, {"external_id": "R2", "amount": "500"}), 400)
    assert "still refundable" in body["details"]["amount"][0]


def test_attribution_policy_for_operators(client, alice, bob, key_client):
    client.force_login(alice)
    assert client.get("/api/v1/orders/attribution-policy/").json()["rule"] == "owner"
    response = client.put(
        "/api/v1/orders/attribution-policy/",
        json.dumps({"rule": "last_served", "window_days": 14}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["window_days"] == 14
    body = error(
        client.put(
            "/api/v1/orders/attribution-policy/",
            json.dumps({"rule": "x", "window_days": 999}),
            content_type="application/json",
        ),
        400,
    )
    assert set(body["details"]) == {"rule", "window_days"}
    client.force_login(bob)
    error(client.get("/api/v1/orders/attribution-policy/"), 403)
    error(
        client.put(
            "/api/v1/orders/attribution-policy/",
            json.dumps({"rule": "owner", "window_days": 7}),
            content_type="application/json",
        ),
        403,
    )


def test_detail_shows_pending_buyer_and_links_later(writer, members, alice):
    body = post(
        writer,
        "/api/v1/orders/",
        order(
            channel="douyin",
            store=None,
            lines=None,
            total_amount="9.9",
            buyer={"channel": "douyin", "external_id": "dy7"},
        ),
    ).json()
    assert body["pending_buyer"] and body["buyer"] == {"channel": "douyin", "namespace": "", "external_id": "dy7"}
    identity = Identity.objects.create(member=members[0][0], channel="douyin", external_id="dy7")
    services.link_orders_for_identities(identity_ids=[identity.pk])
    again = writer.get(f"/api/v1/orders/{body['id']}/").json()
    assert again["member"] == members[0][0].pk and not again["pending_buyer"]


def test_openapi_documents_orders_without_warnings(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(target), "--validate", "--fail-on-warn")
    schema = json.loads(target.read_text())
    for path in (
        "/api/v1/orders/",
        "/api/v1/orders/{id}/",
        "/api/v1/orders/batch/",
        "/api/v1/orders/{id}/refunds/",
        "/api/v1/orders/attribution-policy/",
    ):
        assert path in schema["paths"], path
    assert "all or nothing" in json.dumps(schema["components"]["schemas"]["OrderBatchInputRequest"])
