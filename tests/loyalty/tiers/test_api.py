"""The tiers API: the ladder for everyone and written by operators (errors naming the level), member
tiers and history scoped by store, floors, scopes and a query-count guard on lists."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from loyalty.tiers import services
from loyalty.tiers.models import MemberTier, TierChange, TierLadder

from .conftest import LEVELS, place

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


def error(response, status):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["status"] == status
    return body


def test_ladder_put_get_patch(alice, carol, django_capture_on_commit_callbacks):
    client = client_for(alice)
    assert error(client.get("/api/v1/tier-ladder/current/"), 404)["code"] == "not_found"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.put(
            "/api/v1/tier-ladder/current/",
            {"name": "诺梵会员", "levels": LEVELS, "downgrade_policy": "grace"},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert len(callbacks) == 1
    body = client_for(carol).get("/api/v1/tier-ladder/current/").json()  # store roles read it
    assert [lv["name"] for lv in body["levels"]] == ["可可小白", "可可达人", "可可大师"]
    assert body["downgrade_policy"] == "grace" and body["updated_by"] == "alice"
    patched = client.patch("/api/v1/tier-ladder/current/", {"window_days": 180}, format="json").json()
    assert patched["window_days"] == 180 and len(patched["levels"]) == 3


def test_ladder_errors_name_the_level_and_change_nothing(alice, ladder):
    bad = [dict(lv) for lv in LEVELS]
    bad[1]["threshold"] = "6000"  # above the next one
    body = error(client_for(alice).put("/api/v1/tier-ladder/current/", {"levels": bad}, format="json"), 400)
    assert body["code"] == "validation_error"
    [message] = body["details"]["levels"]["2"]["threshold"]
    assert "可可大师" in message and "可可达人" in message
    assert TierLadder.objects.get().levels.get(rank=2).threshold == 1000


def test_store_roles_and_read_keys_cannot_write_the_ladder(bob, ladder, key_client):
    assert (
        error(client_for(bob).patch("/api/v1/tier-ladder/current/", {"window_days": 1}, format="json"), 403)["code"]
        == "permission_denied"
    )
    client = key_client(scopes=["tiers:read"])
    assert client.get("/api/v1/tier-ladder/current/").status_code == 200
    assert error(client.put("/api/v1/tier-ladder/current/", {"levels": LEVELS}, format="json"), 403)
    assert error(key_client(scopes=["members:read"]).get("/api/v1/tier-ladder/current/"), 403)


def test_member_tier_and_history_are_scoped(ladder, members, carol, dave, alice):
    member_a, member_b = members[0][0], members[1][0]
    place(member_a, 1200)
    services.recalculate_tiers()
    body = client_for(carol).get(f"/api/v1/members/{member_a.pk}/tier/").json()
    assert body["level"]["name"] == "可可达人" and body["qualifying_value"] == "1200.00"
    assert body["next_level"]["name"] == "可可大师" and body["missing_to_next"] == "3800.00"
    history = client_for(carol).get(f"/api/v1/members/{member_a.pk}/tier-history/").json()["results"]
    assert [h["to_name"] for h in history] == ["可可达人"]
    assert error(client_for(dave).get(f"/api/v1/members/{member_a.pk}/tier/"), 404)
    assert error(client_for(dave).get(f"/api/v1/members/{member_a.pk}/tier-history/"), 404)
    assert error(client_for(dave).get(f"/api/v1/member-tiers/{member_a.pk}/"), 404)
    mine = client_for(dave).get("/api/v1/member-tiers/").json()["results"]
    assert {row["member"] for row in mine} == {m.pk for m in members[1]}
    assert (
        client_for(alice).get("/api/v1/member-tiers/", {"member": member_b.pk}).json()["results"][0]["level"]["name"]
        == "可可小白"
    )
    changes = client_for(dave).get("/api/v1/tier-changes/").json()["results"]
    assert {c["member"] for c in changes} == {m.pk for m in members[1]}


def test_member_never_ranked_answers_an_empty_tier(ladder, members, alice):
    body = client_for(alice).get(f"/api/v1/members/{members[0][0].pk}/tier/").json()
    assert body["level"] is None and body["next_level"]["name"] == "可可小白"


def test_floor_through_the_api(ladder, levels, members, bob, carol):
    member = members[0][0]
    url = f"/api/v1/members/{member.pk}/tier/floor/"
    response = client_for(bob).post(url, {"level": levels[2].pk, "reason": "老会员转入"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["level"]["name"] == "可可大师" and response.json()["floor_level"]["name"] == "可可大师"
    assert TierChange.objects.get(member=member).note == "老会员转入"
    assert (
        error(client_for(carol).post(url, {"level": levels[1].pk, "reason": "x"}, format="json"), 403)["code"]
        == "permission_denied"
    )
    body = error(client_for(bob).post(url, {"level": 424242, "reason": "x"}, format="json"), 400)
    assert "level" in body["details"]
    assert error(client_for(bob).post(url, {"reason": "x"}, format="json"), 400)["details"]["level"]
    assert MemberTier.objects.get(member=member).floor_level == levels[2]


def test_list_query_counts_are_bounded(ladder, members, alice, store_a):
    from members.models import Member

    extra = Member.objects.bulk_create([Member(name=f"m{i}", home_store=store_a) for i in range(30)])
    for member in extra:
        place(member, 1000 + len(member.name))
    services.recalculate_tiers()
    client = client_for(alice)
    for url in ("/api/v1/member-tiers/", "/api/v1/tier-changes/", "/api/v1/tier-ladder/current/"):
        client.get(url)  # warm-up (session, content types)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        assert len(queries) <= 6, (url, [q["sql"] for q in queries])
