"""Full phones by default only for operators and brand-wide keys holding phones:read; everyone else
sees them masked in the member API (list, search, detail, identities) and on order buyers. A reveal
is explicit, audited, scoped and rate-limited; every API answer of members' personal data writes one
audit row; a phone never goes in a URL."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from members.models import Identity
from members.services import disclosure
from scrm import permissions
from scrm.models import AuditLog
from scrm.services import api_keys

FULL = "+8613800130000"
MASKED = "+86 138****0000"


def _session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _key(scopes, store=None) -> APIClient:
    client = APIClient()
    plaintext = api_keys.issue(name="k", scopes=list(scopes), store=store).plaintext
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


@pytest.fixture
def member(members):
    first = members[0][0]
    Identity.objects.create(member=first, channel="phone", external_id=FULL)
    Identity.objects.create(member=first, channel="wecom", external_id="wmABCDEF123456")
    return first


@pytest.fixture
def callers(alice, bob, carol, store_a):
    """(name, client, sees full phones)."""
    return [
        ("operator", _session(alice), True),
        ("manager", _session(bob), False),
        ("clerk", _session(carol), False),
        ("brand key with phones:read", _key(["members:read", "orders:read", "phones:read"]), True),
        ("brand key", _key(["members:read", "orders:read"]), False),
        ("store key with phones:read", _key(["members:read", "orders:read", "phones:read"], store=store_a), False),
    ]


def test_phones_read_is_never_in_the_default_read_set():
    assert "phones:read" not in permissions.parse("read")
    assert permissions.parse("phones:read") == ["phones:read"]


def test_each_caller_sees_phones_as_the_rule_says(member, callers):
    for name, client, full in callers:
        expected = FULL if full else MASKED
        listed = client.get("/api/v1/members/", {"store": "SH01"})
        assert listed.status_code == 200, (name, listed.content)
        row = next(r for r in listed.json()["results"] if r["id"] == member.pk)
        assert row["phone"] == expected, name
        detail = client.get(f"/api/v1/members/{member.pk}/").json()
        assert detail["phone"] == expected, name
        by_channel = {i["channel"]: i["external_id"] for i in detail["identities"]}
        assert by_channel == {"phone": expected, "wecom": "wmABCDEF123456"}, name  # platform ids as they are
        identities = client.get(f"/api/v1/members/{member.pk}/identities/").json()["results"]
        assert {i["channel"]: i["external_id"] for i in identities}["phone"] == expected, name
        found = client.post("/api/v1/members/search/", {"q": "13800130000"}, format="json")
        assert found.status_code == 200, (name, found.content)
        assert [r["phone"] for r in found.json()["results"]] == [expected], name


def test_order_buyer_phone_follows_the_rule(member, callers):
    writer = _key(["orders:read", "orders:write"])
    body = {"channel": "pos", "external_id": "SH01-0001", "placed_at": "2026-11-20T14:03:00+08:00",
            "total_amount": "10.00", "store": "SH01",
            "lines": [{"sku": "A", "name": "A", "category": "c", "quantity": 1, "amount": "10.00"}],
            "buyer": {"channel": "phone", "external_id": "13800130000"}}
    created = writer.post("/api/v1/orders/", body, format="json")
    assert created.status_code == 201, created.content
    order_id = created.json()["id"]
    for name, client, full in callers:
        if name == "clerk":
            continue  # clerks do not read the orders API
        got = client.get(f"/api/v1/orders/{order_id}/")
        assert got.status_code == 200, (name, got.content)
        assert got.json()["buyer"]["external_id"] == (FULL if full else MASKED), name


def test_reveal_answers_full_identifiers_uncached_and_audited(member, bob):
    client = _session(bob)
    response = client.post(f"/api/v1/members/{member.pk}/reveal/")
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["member"] == member.pk and body["phone"] == FULL
    assert [i["external_id"] for i in body["identities"]] == [FULL]
    entry = AuditLog.objects.get(action=disclosure.REVEAL_ACTION)
    assert entry.user == bob and entry.object_id == str(member.pk) and entry.store_id == member.home_store_id
    assert "13800130000" not in json.dumps(entry.detail) and "0130000" not in json.dumps(entry.detail)


def test_reveal_is_scoped_like_the_member(members, dave, store_a):
    other_store = members[0][0]  # store A's member
    assert _session(dave).post(f"/api/v1/members/{other_store.pk}/reveal/").status_code == 404
    store_b_key = _key(["members:read"], store=members[1][0].home_store)
    assert store_b_key.post(f"/api/v1/members/{other_store.pk}/reveal/").status_code == 404
    assert not AuditLog.objects.filter(action=disclosure.REVEAL_ACTION).exists()
    assert _key(["orders:read"]).post(f"/api/v1/members/{other_store.pk}/reveal/").status_code == 403


@override_settings(MEMBER_REVEALS_PER_HOUR=2)
def test_reveals_are_rate_limited_per_actor(member, bob, carol):
    client = _session(bob)
    assert [client.post(f"/api/v1/members/{member.pk}/reveal/").status_code for _ in range(3)] == [200, 200, 429]
    refused = client.post(f"/api/v1/members/{member.pk}/reveal/").json()["error"]
    assert refused["code"] == "throttled"
    assert AuditLog.objects.filter(action=disclosure.REVEAL_ACTION).count() == 2
    assert _session(carol).post(f"/api/v1/members/{member.pk}/reveal/").status_code == 200  # per actor


def test_one_audit_row_per_api_read_with_its_count(members, bob, alice):
    client = _session(bob)
    assert len(client.get("/api/v1/members/").json()["results"]) == 3
    rows = list(AuditLog.objects.filter(action=disclosure.BULK_READ_ACTION))
    assert len(rows) == 1
    assert rows[0].user == bob and rows[0].detail == {"endpoint": "member.list", "members": 3, "unmasked": False}
    _session(alice).get(f"/api/v1/members/{members[1][0].pk}/")
    latest = AuditLog.objects.filter(action=disclosure.BULK_READ_ACTION).order_by("-id").first()
    assert latest.user == alice and latest.detail == {"endpoint": "member.retrieve", "members": 1, "unmasked": True}
    client.post("/api/v1/members/search/", {"q": "13800130001"}, format="json")
    latest = AuditLog.objects.filter(action=disclosure.BULK_READ_ACTION).order_by("-id").first()
    assert latest.detail == {"endpoint": "member.search", "members": 1, "unmasked": False}
    assert AuditLog.objects.filter(action=disclosure.BULK_READ_ACTION).count() == 3


def test_paging_the_list_audits_each_page(members, store_a, django_assert_max_num_queries):
    client = _key(["members:read"], store=store_a)
    first = client.get("/api/v1/members/", {"page_size": 2}).json()
    client.get(first["next"])
    counts = [r.detail["members"] for r in AuditLog.objects.filter(action=disclosure.BULK_READ_ACTION).order_by("id")]
    assert counts == [2, 1]


def test_a_phone_in_the_list_query_is_refused_names_still_work(members, bob):
    client = _session(bob)
    for phone in ("13800130001", "138 0013 0001", "+86-138-0013-0001", "0001"):
        response = client.get("/api/v1/members/", {"q": phone})
        assert response.status_code == 400, phone
        error = response.json()["error"]
        assert "/api/v1/members/search/" in error["details"]["q"][0]
    assert not AuditLog.objects.filter(action=disclosure.BULK_READ_ACTION).exists()
    named = client.get("/api/v1/members/", {"q": "张1"})
    assert named.status_code == 200 and [r["id"] for r in named.json()["results"]] == [members[0][1].pk]


def test_search_by_body_is_scoped_paged_and_refuses_unknown_filters(members, dave, store_a):
    client = _session(dave)  # store B: store A's phone finds nothing
    assert client.post("/api/v1/members/search/", {"q": "13800130001"}, format="json").json()["results"] == []
    key = _key(["members:read"], store=store_a)
    page = key.post("/api/v1/members/search/?page_size=2", {"q": "张"}, format="json").json()
    assert len(page["results"]) == 2 and page["next"] and "张" not in page["next"]
    rest = key.post(page["next"], {"q": "张"}, format="json").json()
    assert len(rest["results"]) == 1
    bad = key.post("/api/v1/members/search/", {"phone": "13800130001"}, format="json")
    assert bad.status_code == 400 and "phone" in bad.json()["error"]["details"]
    assert "13800130001" not in json.dumps(list(AuditLog.objects.values("detail")))


def test_segment_members_and_preview_follow_the_rule_and_are_audited(member, alice, bob):
    definition = {"all": [{"field": "stage", "op": "in", "value": [member.stage]}]}
    for user, expected in ((alice, FULL), (bob, MASKED)):
        client = _session(user)
        preview = client.post("/api/v1/segments/count/", {"definition": definition, "sample": 5}, format="json")
        assert preview.status_code == 200, preview.content
        assert member.pk in [m["id"] for m in preview.json()["sample"]]
        assert {m["phone"] for m in preview.json()["sample"] if m["id"] == member.pk} == {expected}
    rows = AuditLog.objects.filter(action=disclosure.BULK_READ_ACTION, detail__endpoint="segment.count")
    assert [r.detail["unmasked"] for r in rows.order_by("id")] == [True, False]
