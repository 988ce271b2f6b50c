"""The Idempotency-Key header: a retried redemption redeems once, a key reused for another request
is refused, concurrent retries execute once (real threads against the live server), keys expire."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import httpx
import pytest
import yaml
from django.core.management import call_command
from django.db import close_old_connections, transaction
from django.utils import timezone

from loyalty.points import services as points
from loyalty.points.models import PointEntry, PointsPolicy, Redemption, Reward
from scrm.api import idempotency
from scrm.celery import app as celery_app
from scrm.models import IdempotencyKey
from scrm.tasks import purge_idempotency_keys
from tests.loyalty.points.conftest import balance


@pytest.fixture
def funded(members, alice):
    PointsPolicy.objects.create(pk=1, points_per_unit=1, expiry_mode="period_end", expiry_years=1)
    member = members[0][0]
    points.adjust_points(member=member, points=1000, reason="welcome", actor=alice)
    return member


@pytest.fixture
def reward(db):
    return Reward.objects.create(name="Coco 黑巧礼盒", kind="gift", points_cost=400, stock=10)


def _redeem(client, member, reward, key, **extra):
    body = {"member": member.pk, "reward": reward.pk, **extra}
    return client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retried_redemption_redeems_once_and_answers_the_first_result(api_client, carol, funded, reward):
    api_client.force_authenticate(carol)
    key = str(uuid.uuid4())
    first = _redeem(api_client, funded, reward, key)
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    again = _redeem(api_client, funded, reward, key)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Redemption.objects.count() == 1 and balance(funded) == 600
    # Without a key, a resend is a new redemption (as before).
    assert (
        api_client.post("/api/v1/redemptions/", {"member": funded.pk, "reward": reward.pk}, format="json").status_code
        == 201
    )
    assert Redemption.objects.count() == 2


def test_the_same_key_for_another_request_is_refused_naming_what_differs(api_client, carol, funded, reward):
    api_client.force_authenticate(carol)
    key = "pos-7-receipt-0042"
    redemption = _redeem(api_client, funded, reward, key).json()
    response = _redeem(api_client, funded, reward, key, note="another")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "idempotency_key_reused" and error["details"]["differs"] == ["body"]
    assert "body" in error["details"]["Idempotency-Key"][0]
    response = api_client.post(
        f"/api/v1/redemptions/{redemption['id']}/cancel/", {}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["differs"] == ["path", "body"]
    assert Redemption.objects.count() == 1 and balance(funded) == 600


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "中文"])
def test_a_malformed_key_is_refused_before_anything_runs(api_client, carol, funded, reward, key):
    api_client.force_authenticate(carol)
    response = _redeem(api_client, funded, reward, key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert Redemption.objects.count() == 0 and not IdempotencyKey.objects.exists()


def test_a_refusal_by_the_state_is_kept_but_an_invalid_request_is_not(api_client, alice, carol, funded, reward):
    api_client.force_authenticate(carol)
    expensive = Reward.objects.create(name="Bike", kind="gift", points_cost=5000, stock=1)
    refused = _redeem(api_client, funded, expensive, "k-refused")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "insufficient_points"
    points.adjust_points(member=funded, points=5000, reason="top up", actor=alice)
    again = _redeem(api_client, funded, expensive, "k-refused")
    assert again.status_code == 409 and again["Idempotent-Replayed"] == "true"
    assert Redemption.objects.count() == 0
    # A 400 keeps nothing: the corrected request may use the same key.
    bad = api_client.post("/api/v1/redemptions/", {"member": funded.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-fixed")
    assert bad.status_code == 400
    assert _redeem(api_client, funded, reward, "k-fixed").status_code == 201


def test_keys_belong_to_one_credential(api_client, key_client, carol, store_a, funded, reward):
    api_client.force_authenticate(carol)
    assert _redeem(api_client, funded, reward, "shared-key").status_code == 201
    api_client.force_authenticate(None)
    client = key_client(scopes=["points:write", "points:read"], store=store_a)
    response = _redeem(client, funded, reward, "shared-key")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Redemption.objects.count() == 2


def test_adjustments_and_cancels_replay_too(api_client, alice, funded, reward):
    api_client.force_authenticate(alice)
    body = {"member": funded.pk, "points": 50, "reason": "goodwill"}
    for _ in range(2):
        response = api_client.post("/api/v1/point-entries/adjust/", body, format="json", HTTP_IDEMPOTENCY_KEY="adj-1")
        assert response.status_code == 201
    assert PointEntry.objects.filter(kind="adjust", delta=50).count() == 1 and balance(funded) == 1050
    redemption = _redeem(api_client, funded, reward, "r-1").json()
    for _ in range(2):
        response = api_client.post(
            f"/api/v1/redemptions/{redemption['id']}/cancel/", {}, format="json", HTTP_IDEMPOTENCY_KEY="c-1"
        )
        assert response.status_code == 200, response.content  # the second is the first answer, not 409
    assert balance(funded) == 1050


def test_an_expired_key_is_forgotten_and_the_periodic_purge_deletes_old_keys(api_client, carol, funded):
    api_client.force_authenticate(carol)
    reward = Reward.objects.create(name="Sticker", kind="gift", points_cost=100, stock=10)
    assert _redeem(api_client, funded, reward, "old").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    response = _redeem(api_client, funded, reward, "old")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Redemption.objects.count() == 2
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert _redeem(api_client, funded, reward, "fresh").status_code == 201
    assert purge_idempotency_keys.apply().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    schedule = celery_app.conf.beat_schedule["purge-idempotency-keys"]
    assert schedule["task"] == "scrm.tasks.purge_idempotency_keys" and schedule["options"]["expires"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_against_the_live_server_redeem_once(live_server, make_key, store_a, funded, reward):
    token = make_key(scopes=["points:write", "points:read"], store=store_a)
    barrier, answers = threading.Barrier(4), []

    def send():
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            barrier.wait()
            answers.append(
                client.post(
                    "/api/v1/redemptions/",
                    json={"member": funded.pk, "reward": reward.pk},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "till-3-sale-9"},
                )
            )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true", "true", "true"]
    assert len({a.json()["id"] for a in answers}) == 1
    assert Redemption.objects.count() == 1 and balance(funded) == 600


@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_is_still_running_waits_then_says_in_progress(
    api_client, carol, funded, reward, settings
):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.3
    holding, release = threading.Event(), threading.Event()

    def first_request_running():  # another transaction holds the key's uncommitted row
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(
                    credential=f"user:{carol.pk}",
                    key="busy",
                    method="POST",
                    path="/api/v1/redemptions/",
                    body_hash="",
                    created_at=timezone.now(),
                )
                holding.set()
                release.wait(10)
                transaction.set_rollback(True)
        finally:
            close_old_connections()

    thread = threading.Thread(target=first_request_running)
    thread.start()
    try:
        assert holding.wait(10)
        api_client.force_authenticate(carol)
        response = _redeem(api_client, funded, reward, "busy")
    finally:
        release.set()
        thread.join()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert Redemption.objects.count() == 0
    # Once the first is gone (rolled back), the retry runs.
    assert _redeem(api_client, funded, reward, "busy").status_code == 201


def test_the_schema_documents_the_header_on_every_money_points_and_messages_post(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    marked = sorted(
        path
        for path, operations in paths.items()
        if any(p.get("name") == idempotency.HEADER for p in operations.get("post", {}).get("parameters", []))
    )
    assert marked == sorted(
        [
            "/api/v1/tasks/",
            "/api/v1/calendar/posts/",
            "/api/v1/calendar/posts/{id}/cancel/",
            "/api/v1/webhooks/subscriptions/",
            "/api/v1/webhooks/subscriptions/{id}/pause/",
            "/api/v1/webhooks/subscriptions/{id}/ping/",
            "/api/v1/webhooks/subscriptions/{id}/redeliver/",
            "/api/v1/webhooks/subscriptions/{id}/replay/",
            "/api/v1/webhooks/subscriptions/{id}/resume/",
            "/api/v1/webhooks/subscriptions/{id}/rotate-secret/",
            "/api/v1/tasks/{id}/claim/",
            "/api/v1/tasks/{id}/complete/",
            "/api/v1/tasks/{id}/reassign/",
            "/api/v1/tasks/{id}/skip/",
            "/api/v1/journeys/",
            "/api/v1/journeys/{id}/activate/",
            "/api/v1/journeys/{id}/end/",
            "/api/v1/journeys/{id}/pause/",
            "/api/v1/koc/applications/",
            "/api/v1/koc/applications/{id}/approve/",
            "/api/v1/koc/applications/{id}/reject/",
            "/api/v1/koc/creators/{creator_id}/accounts/",
            "/api/v1/koc/metrics/batch/",
            "/api/v1/koc/posts/",
            "/api/v1/koc/posts/{id}/repost/",
            "/api/v1/koc/posts/{post_id}/metrics/",
            "/api/v1/koc/rates/",
            "/api/v1/koc/topics/",
            "/api/v1/koc/topics/{id}/join/",
            "/api/v1/koc/topics/{topic_id}/participations/{id}/reward/",
            "/api/v1/koc/benefits/",
            "/api/v1/koc/creators/{creator_id}/templates/",
            "/api/v1/koc/launches/",
            "/api/v1/koc/tier-runs/",
            "/api/v1/campaigns/{campaign_id}/test-sends/",
            "/api/v1/campaigns/{campaign_id}/wecom-tasks/{id}/remind/",
            "/api/v1/campaigns/{id}/resume/",
            "/api/v1/campaigns/{id}/send/",
            "/api/v1/group-campaigns/{id}/resume/",
            "/api/v1/group-campaigns/{id}/send/",
            "/api/v1/commissions/mark-paid/",
            "/api/v1/appointments/bookings/",
            "/api/v1/appointments/bookings/{id}/cancel/",
            "/api/v1/appointments/bookings/{id}/check-in/",
            "/api/v1/appointments/bookings/{id}/complete/",
            "/api/v1/appointments/bookings/{id}/no-show/",
            "/api/v1/appointments/bookings/{id}/reschedule/",
            "/api/v1/communities/{community_id}/members/",
            "/api/v1/communities/{community_id}/invitations/",
            "/api/v1/communities/{id}/add-segment/",
            "/api/v1/events/{event_id}/checkins/",
            "/api/v1/events/{event_id}/checkins/batch/",
            "/api/v1/events/{event_id}/signups/",
            "/api/v1/events/{event_id}/signups/{id}/cancel/",
            "/api/v1/events/{event_id}/signups/{id}/confirm/",
            "/api/v1/members/bulk-upsert/",
            "/api/v1/members/upsert/",
            "/api/v1/orders/",
            "/api/v1/orders/batch/",
            "/api/v1/orders/{id}/refunds/",
            "/api/v1/point-entries/adjust/",
            "/api/v1/redemptions/",
            "/api/v1/redemptions/{id}/cancel/",
            "/api/v1/send-policy/seasons/",
            "/api/v1/wecom/handovers/",
            "/api/v1/wecom/sync-runs/",
        ]
    )
    assert "422" in paths["/api/v1/redemptions/"]["post"]["responses"]
