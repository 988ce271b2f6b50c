"""Points API: scopes per role and key, 404 across stores, the one error shape, and query counts."""

from __future__ import annotations

import pytest

from loyalty.points import services
from loyalty.points.models import PointEntry, Redemption, Reward
from tests.loyalty.points.conftest import balance


@pytest.fixture
def funded(policy, members, alice):
    """Member 0 of store A with 1,000 pts, member 0 of store B with 500."""
    a, b = members[0][0], members[1][0]
    services.adjust_points(member=a, points=1000, reason="welcome", actor=alice)
    services.adjust_points(member=b, points=500, reason="welcome", actor=alice)
    return a, b


@pytest.fixture
def reward(db):
    return Reward.objects.create(name="Coco 黑巧礼盒", kind="gift", points_cost=400, stock=3)


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["status"] == status and body["code"] == code
    return body


def test_member_points_summary_and_store_scope(api_client, carol, funded):
    a, b = funded
    api_client.force_authenticate(carol)
    response = api_client.get(f"/api/v1/members/{a.pk}/points/")
    assert response.status_code == 200
    body = response.json()
    assert body["balance"] == 1000 and body["lots"][0]["remaining"] == 1000
    assert body["entries"][0]["explanation"] == "Adjusted by +1000 pts: welcome"
    assert body["expiring"][0]["points"] == 1000
    _error(api_client.get(f"/api/v1/members/{b.pk}/points/"), 404, "not_found")


def test_redeem_and_cancel_at_the_till(api_client, carol, funded, reward):
    a, b = funded
    api_client.force_authenticate(carol)
    response = api_client.post("/api/v1/redemptions/", {"member": a.pk, "reward": reward.pk}, format="json")
    assert response.status_code == 201, response.content
    redemption_id = response.json()["id"]
    assert response.json()["points"] == 400 and balance(a) == 600
    response = api_client.post(f"/api/v1/redemptions/{redemption_id}/cancel/", {"reason": "wrong item"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert balance(a) == 1000
    _error(api_client.post(f"/api/v1/redemptions/{redemption_id}/cancel/", {}, format="json"), 409, "already_cancelled")
    # Another store's member: not found, nothing changed.
    body = _error(
        api_client.post("/api/v1/redemptions/", {"member": b.pk, "reward": reward.pk}, format="json"), 404, "not_found"
    )
    assert "member" in body["details"]
    assert balance(b) == 500


def test_bad_redemptions_answer_clear_errors(api_client, carol, funded, reward):
    a, _b = funded
    api_client.force_authenticate(carol)
    _error(api_client.post("/api/v1/redemptions/", {"member": a.pk}, format="json"), 400, "validation_error")
    body = _error(
        api_client.post("/api/v1/redemptions/", {"member": a.pk, "reward": 999999}, format="json"),
        400,
        "validation_error",
    )
    assert body["details"] == {"reward": ["Unknown reward 999999."]}
    expensive = Reward.objects.create(name="Coco 大师课", kind="early_access", points_cost=5000)
    body = _error(
        api_client.post("/api/v1/redemptions/", {"member": a.pk, "reward": expensive.pk}, format="json"),
        409,
        "insufficient_points",
    )
    assert body["details"] == {"points": ["Needs 5000, has 1000."]}
    Reward.objects.filter(pk=reward.pk).update(stock=0)
    _error(
        api_client.post("/api/v1/redemptions/", {"member": a.pk, "reward": reward.pk}, format="json"),
        409,
        "out_of_stock",
    )
    assert balance(a) == 1000 and not Redemption.objects.exists()


def test_adjust_needs_the_operator_scope(api_client, key_client, alice, bob, funded):
    a, _b = funded
    api_client.force_authenticate(bob)
    _error(
        api_client.post("/api/v1/point-entries/adjust/", {"member": a.pk, "points": 5, "reason": "x"}, format="json"),
        403,
        "permission_denied",
    )
    api_client.force_authenticate(alice)
    response = api_client.post(
        "/api/v1/point-entries/adjust/", {"member": a.pk, "points": -100, "reason": "duplicate order"}, format="json"
    )
    assert response.status_code == 201 and response.json()["balance_after"] == 900
    body = _error(
        api_client.post("/api/v1/point-entries/adjust/", {"member": a.pk, "points": 5, "reason": ""}, format="json"),
        400,
        "validation_error",
    )
    assert "reason" in body["details"]
    api_client.force_authenticate(None)
    client = key_client(scopes=["point_adjustments:write", "points:read"])
    response = client.post(
        "/api/v1/point-entries/adjust/", {"member": a.pk, "points": 7, "reason": "POS fix"}, format="json"
    )
    assert response.status_code == 201
    assert PointEntry.objects.get(pk=response.json()["id"]).actor_label.startswith("API key")


def test_store_bound_key_sees_its_store_only(key_client, funded, store_b):
    a, b = funded
    client = key_client(scopes=["points:read"], store=store_b)
    members = {row["member"] for row in client.get("/api/v1/point-entries/").json()["results"]}
    assert members == {b.pk}
    _error(client.get(f"/api/v1/members/{a.pk}/points/"), 404, "not_found")
    _error(client.post("/api/v1/redemptions/", {"member": b.pk, "reward": 1}, format="json"), 403, "permission_denied")


def test_rewards_catalogue_is_managed_by_operators(api_client, alice, bob, db):
    api_client.force_authenticate(alice)
    body = _error(
        api_client.post("/api/v1/rewards/", {"name": "满299减30券", "kind": "coupon", "points_cost": 0}, format="json"),
        400,
        "validation_error",
    )
    assert "points_cost" in body["details"]
    body = _error(
        api_client.post(
            "/api/v1/rewards/",
            {
                "name": "Window",
                "points_cost": 10,
                "starts_at": "2026-05-01T00:00:00+08:00",
                "ends_at": "2026-04-01T00:00:00+08:00",
            },
            format="json",
        ),
        400,
        "validation_error",
    )
    assert "ends_at" in body["details"]
    response = api_client.post(
        "/api/v1/rewards/",
        {"name": "满299减30券", "kind": "coupon", "points_cost": 500, "per_member_limit": 2},
        format="json",
    )
    assert response.status_code == 201
    reward_id = response.json()["id"]
    response = api_client.patch(f"/api/v1/rewards/{reward_id}/", {"stock": 100}, format="json")
    assert response.status_code == 200 and response.json()["stock"] == 100
    api_client.force_authenticate(bob)
    assert api_client.get("/api/v1/rewards/").json()["results"][0]["name"] == "满299减30券"
    _error(
        api_client.post("/api/v1/rewards/", {"name": "x", "points_cost": 1}, format="json"), 403, "permission_denied"
    )
    api_client.force_authenticate(alice)
    assert api_client.delete(f"/api/v1/rewards/{reward_id}/").status_code == 204


def test_a_redeemed_reward_cannot_be_deleted(api_client, alice, funded, reward):
    services.redeem(member=funded[0], reward=reward, actor=alice)
    api_client.force_authenticate(alice)
    _error(api_client.delete(f"/api/v1/rewards/{reward.pk}/"), 409, "reward_in_use")


def test_policy_get_and_patch(api_client, alice, bob, policy, settings):
    api_client.force_authenticate(bob)
    assert api_client.get("/api/v1/points-policy/current/").json()["points_per_unit"] == "1.00"
    assert api_client.get("/api/v1/points-policy/current/").status_code == 200
    _error(
        api_client.patch("/api/v1/points-policy/current/", {"points_per_unit": "2"}, format="json"),
        403,
        "permission_denied",
    )
    api_client.force_authenticate(alice)
    body = _error(
        api_client.patch(
            "/api/v1/points-policy/current/",
            {"tier_multipliers": {"gold": 2}, "currency_rates": {"USD": 7}},
            format="json",
        ),
        400,
        "validation_error",
    )
    assert set(body["details"]) == {"tier_multipliers", "currency_rates"}
    response = api_client.patch(
        "/api/v1/points-policy/current/",
        {"points_per_unit": "2", "tier_multipliers": {"4": 1.5}, "expiry_mode": "after_days", "expiry_days": 365},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["tier_multipliers"] == {"4": 1.5} and response.json()["expiry_mode"] == "after_days"


def test_ledger_list_query_count_is_bounded(api_client, alice, funded, django_assert_max_num_queries):
    a, _b = funded
    for i in range(30):
        services.adjust_points(member=a, points=1, reason=f"r{i}", actor=alice)
    api_client.force_authenticate(alice)
    with django_assert_max_num_queries(6):
        response = api_client.get("/api/v1/point-entries/", {"member": a.pk, "page_size": 100})
    assert len(response.json()["results"]) == 31
    with django_assert_max_num_queries(6):
        assert len(api_client.get("/api/v1/point-lots/", {"member": a.pk, "open": "true"}).json()["results"]) == 31
    with django_assert_max_num_queries(6):
        api_client.get("/api/v1/redemptions/")
    with django_assert_max_num_queries(8):
        api_client.get(f"/api/v1/members/{a.pk}/points/")
