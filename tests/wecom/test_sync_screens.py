"""The sync pages per role and the sync API's scope, over a run made against the local server."""

from __future__ import annotations

import pytest
from django.urls import reverse

from wecom.models import SyncFailure, SyncKind, SyncRun, WecomStaff
from wecom.services import sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(make_corp, alice, carol, dave):
    make_corp(staff=["carol", "dave", "erin"], contacts_per_staff=5)
    started = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    while sync.run_step(run_id=started.pk) == "more":
        pass
    started.refresh_from_db()
    SyncFailure.objects.create(run=started, reason="identity_conflict", external_userid="wmX")
    return started


def _login(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("who, status", [("alice", 200), ("bob", 403), ("carol", 403), ("dave", 403)])
def test_sync_pages_are_for_operators(client, run, request, who, status):
    user = request.getfixturevalue(who)
    _login(client, user)
    assert client.get(reverse("wecom-sync-list")).status_code == status
    assert client.get(reverse("wecom-sync-detail", args=[run.pk])).status_code == status
    answer = client.post(reverse("wecom-sync-start"), {"kind": SyncKind.CONTACTS_INCREMENTAL})
    assert answer.status_code == (302 if status == 200 else 403)


def test_the_list_shows_runs_staff_and_the_start_buttons(client, run, alice):
    page = _login(client, alice).get(reverse("wecom-sync-list")).content.decode()
    assert f'data-testid="run-{run.pk}"' in page
    assert 'data-testid="start-full"' in page and 'data-testid="start-incremental"' in page
    assert "Not linked: not synced" in page  # erin
    assert 'data-testid="staff-carol"' in page


def test_the_detail_words_failures_and_skipped_staff(client, run, alice):
    page = _login(client, alice).get(reverse("wecom-sync-detail", args=[run.pk])).content.decode()
    assert "belong to different members" in page
    assert "not linked to a Siyu account" in page
    assert 'data-testid="cursor-carol"' in page


def test_a_paused_run_says_why_and_when_it_resumes_and_polls(client, run, alice):
    from django.utils import timezone

    paused = SyncRun.objects.create(kind=SyncKind.CONTACTS, status="paused", pause_reason="rate_limited",
                                    resume_at=timezone.now())
    page = _login(client, alice).get(reverse("wecom-sync-detail", args=[paused.pk])).content.decode()
    assert "call limit was reached" in page and "It resumes at" in page
    assert 'hx-trigger="every 3s"' in page
    listing = client.get(reverse("wecom-sync-list")).content.decode()
    assert 'hx-trigger="every 3s"' in listing


def test_linking_a_staff_member_by_hand(client, run, alice, bob, store_a):
    from scrm.models import User

    erin = WecomStaff.objects.get(userid="erin")
    account = User.objects.create(username="erin-account", role="store_staff", store=store_a)
    _login(client, bob)
    assert client.post(reverse("wecom-staff-link", args=[erin.pk]), {"user": account.pk}).status_code == 403
    _login(client, alice)
    assert client.post(reverse("wecom-staff-link", args=[erin.pk]), {"user": account.pk}).status_code == 302
    erin.refresh_from_db()
    assert erin.user == account and erin.store == store_a


def test_api_runs_failures_and_staff_need_the_wecom_scope(api_client, run, make_key, store_a):
    brand = make_key(scopes=["wecom:read", "wecom:write"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {brand}")
    runs = api_client.get("/api/v1/wecom/sync-runs/")
    assert runs.status_code == 200 and runs.json()["results"][0]["id"] == run.pk
    assert api_client.get(f"/api/v1/wecom/sync-runs/{run.pk}/").json()["added"] == run.added
    failures = api_client.get(f"/api/v1/wecom/sync-runs/{run.pk}/failures/").json()["results"]
    assert failures[0]["reason"] == "identity_conflict" and "different members" in failures[0]["reason_text"]
    staff = api_client.get("/api/v1/wecom/staff/").json()["results"]
    assert {s["userid"]: s["linked"] for s in staff} == {"carol": True, "dave": True, "erin": False}
    started = api_client.post("/api/v1/wecom/sync-runs/", {"kind": "contacts_incremental"}, format="json",
                              HTTP_IDEMPOTENCY_KEY="start-1")
    assert started.status_code == 201
    replay = api_client.post("/api/v1/wecom/sync-runs/", {"kind": "contacts_incremental"}, format="json",
                             HTTP_IDEMPOTENCY_KEY="start-1")
    assert replay.json()["id"] == started.json()["id"]
    again = api_client.post("/api/v1/wecom/sync-runs/", {"kind": "contacts_incremental"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == started.json()["id"]
    assert api_client.post("/api/v1/wecom/sync-runs/", {"kind": "tags"}, format="json").status_code == 400

    other = make_key(scopes=["members:read"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other}")
    assert api_client.get("/api/v1/wecom/sync-runs/").status_code == 403
    assert api_client.get("/api/v1/wecom/staff/").status_code == 403


def test_api_refuses_store_roles(api_client, run, bob):
    api_client.force_authenticate(bob)
    assert api_client.get("/api/v1/wecom/sync-runs/").status_code == 403


def test_a_store_bound_key_is_refused_the_brand_wide_sync_runs_but_lists_its_store_staff(
        api_client, run, make_key, store_a):
    key = make_key(scopes=["wecom:read", "wecom:write"], store=store_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    for answer in (
        api_client.get("/api/v1/wecom/sync-runs/"),
        api_client.get(f"/api/v1/wecom/sync-runs/{run.pk}/"),
        api_client.get(f"/api/v1/wecom/sync-runs/{run.pk}/failures/"),
        api_client.post("/api/v1/wecom/sync-runs/", {"kind": "contacts"}, format="json"),
        api_client.post(f"/api/v1/wecom/sync-runs/{run.pk}/cancel/", format="json"),
    ):
        assert answer.status_code == 403, answer.content
        assert "brand-wide" in answer.json()["error"]["message"]
    assert api_client.get("/api/v1/wecom/events/").status_code == 403
    staff = api_client.get("/api/v1/wecom/staff/").json()["results"]
    assert {s["userid"] for s in staff} == {"carol"}  # its own store's staff only
    assert SyncRun.objects.filter(kind=SyncKind.CONTACTS).count() == 1  # nothing started


def _active_run(alice):
    return sync.start_run(kind=SyncKind.CONTACTS_INCREMENTAL, actor=alice).run


def test_an_operator_cancels_an_active_run_from_its_page(client, run, alice):
    active = _active_run(alice)
    _login(client, alice)
    page = client.get(reverse("wecom-sync-detail", args=[active.pk])).content.decode()
    assert 'data-testid="cancel-run"' in page and "data-confirm=" in page
    assert f'action="{reverse("wecom-sync-cancel", args=[active.pk])}"' in page
    answer = client.post(reverse("wecom-sync-cancel", args=[active.pk]), follow=True)
    active.refresh_from_db()
    assert active.status == "cancelled" and active.error_code == "cancelled" and active.error == "alice"
    page = answer.content.decode()
    assert "The sync is cancelled" in page and 'data-testid="cancel-run"' not in page
    assert "Cancelled; what it had written is kept." in page
    again = client.post(reverse("wecom-sync-cancel", args=[active.pk]), follow=True)
    assert "had already ended" in again.content.decode()
    # an ended run has no button, and the poll that finds a run ended takes the button away
    assert 'data-testid="cancel-run"' not in client.get(reverse("wecom-sync-detail", args=[run.pk])).content.decode()
    polled = client.get(reverse("wecom-sync-detail", args=[active.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="sync-cancel" hx-swap-oob="true"' in polled


@pytest.mark.parametrize("who", ["bob", "carol", "dave"])
def test_store_roles_cannot_cancel(client, run, alice, request, who):
    active = _active_run(alice)
    _login(client, request.getfixturevalue(who))
    assert client.post(reverse("wecom-sync-cancel", args=[active.pk])).status_code == 403
    active.refresh_from_db()
    assert active.status == "queued"


def test_the_cancel_needs_a_csrf_token(run, alice):
    from django.test import Client

    active = _active_run(alice)
    strict_client = Client(enforce_csrf_checks=True)
    strict_client.force_login(alice)
    assert strict_client.post(reverse("wecom-sync-cancel", args=[active.pk])).status_code == 403
    active.refresh_from_db()
    assert active.status == "queued"


def test_api_cancel_answers_the_run_then_409_once_it_has_ended(api_client, run, alice, make_key):
    active = _active_run(alice)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(scopes=['wecom:read', 'wecom:write'])}")
    cancelled = api_client.post(f"/api/v1/wecom/sync-runs/{active.pk}/cancel/", format="json")
    assert cancelled.status_code == 200, cancelled.content
    body = cancelled.json()
    assert body["id"] == active.pk and body["status"] == "cancelled" and body["error_code"] == "cancelled"
    assert "what it had written is kept" in body["error_text"]
    finished_at = SyncRun.objects.get(pk=active.pk).finished_at
    for _ in range(2):  # safe to repeat: the ended run stays as it was
        again = api_client.post(f"/api/v1/wecom/sync-runs/{active.pk}/cancel/", format="json")
        assert again.status_code == 409 and again.json()["error"]["code"] == "run_ended"
    assert SyncRun.objects.get(pk=active.pk).finished_at == finished_at
    done = api_client.post(f"/api/v1/wecom/sync-runs/{run.pk}/cancel/", format="json")
    assert done.status_code == 409
    run.refresh_from_db()
    assert run.status == "done" and run.error_code == ""
    assert api_client.post("/api/v1/wecom/sync-runs/999999/cancel/", format="json").status_code == 404
    reader = make_key(scopes=["wecom:read"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {reader}")
    other = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    assert api_client.post(f"/api/v1/wecom/sync-runs/{other.pk}/cancel/", format="json").status_code == 403
    other.refresh_from_db()
    assert other.status == "queued"
