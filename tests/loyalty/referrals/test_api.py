"""Referrals API: scopes, store scoping, the error shape, bulk mark paid, query counts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from loyalty.referrals import services
from loyalty.referrals.models import Commission, CommissionRule, Referral, ReferralCode


def _commissions(members, codes, make_order, n=3, days_ago=10):
    (a0, a1, _a2), (b0, b1) = members
    CommissionRule.objects.get_or_create(name="any", defaults={"rate": Decimal("5")})
    placed = timezone.now() - timedelta(days=days_ago)
    orders = [make_order(member=a1, code=codes[a0.pk].code, placed_at=placed) for _ in range(n)]
    orders.append(make_order(member=b1, code=codes[b0.pk].code, placed_at=placed))
    services.sync_commissions(order_ids=[o.pk for o in orders])
    services.release_due_commissions()
    return orders


def test_code_get_or_create(api_client, carol, members):
    (a0, *_), (b0, *_) = members
    api_client.force_authenticate(carol)
    first = api_client.post("/api/v1/referral-codes/", {"member": a0.pk})
    assert first.status_code == 201
    assert first.json()["link"] == f"/r/{first.json()['code']}"
    again = api_client.post("/api/v1/referral-codes/", {"member": a0.pk})
    assert again.status_code == 200 and again.json()["code"] == first.json()["code"]
    other = api_client.post("/api/v1/referral-codes/", {"member": b0.pk})  # another store's member
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    bad = api_client.post("/api/v1/referral-codes/", {"member": "x"})
    assert bad.status_code == 400 and "member" in bad.json()["error"]["details"]
    listed = api_client.get("/api/v1/referral-codes/", {"member": a0.pk}).json()["results"]
    assert [c["code"] for c in listed] == [first.json()["code"]]
    assert ReferralCode.objects.count() == 1


def test_record_referral_by_api(api_client, bob, members, codes):
    (a0, a1, _a2), _ = members
    api_client.force_authenticate(bob)
    r = api_client.post("/api/v1/referrals/", {"member": a1.pk, "code": codes[a0.pk].code.lower()})
    assert r.status_code == 201 and r.json()["referrer"] == a0.pk and r.json()["source"] == "api"
    again = api_client.post("/api/v1/referrals/", {"member": a1.pk, "code": codes[a0.pk].code})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    unknown = api_client.post("/api/v1/referrals/", {"member": a0.pk, "code": "NOPE"})
    assert unknown.status_code == 400 and "code" in unknown.json()["error"]["details"]
    assert Referral.objects.count() == 1


def test_rules_crud_is_for_operators(api_client, alice, bob):
    api_client.force_authenticate(bob)
    assert api_client.post("/api/v1/commission-rules/", {"name": "x", "rate": "5"}).status_code == 403
    assert api_client.get("/api/v1/commission-rules/").status_code == 200  # store roles read
    api_client.force_authenticate(alice)
    created = api_client.post(
        "/api/v1/commission-rules/", {"name": "Tmall", "channel": "tmall", "rate": "4.5", "return_window_days": 15}
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    patched = api_client.patch(f"/api/v1/commission-rules/{pk}/", {"rate": "6"})
    assert patched.status_code == 200 and patched.json()["rate"] == "6.00"
    bad = api_client.patch(f"/api/v1/commission-rules/{pk}/", {"rate": "120"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["rate"]
    assert CommissionRule.objects.get().rate == Decimal("6")
    assert api_client.delete(f"/api/v1/commission-rules/{pk}/").status_code == 204
    assert not CommissionRule.objects.exists()


def test_commission_list_is_scoped_and_filtered(api_client, bob, dave, members, codes, make_order):
    _commissions(members, codes, make_order)
    (a0, *_), (b0, *_) = members
    api_client.force_authenticate(bob)
    body = api_client.get("/api/v1/commissions/").json()["results"]
    assert {c["referrer"] for c in body} == {a0.pk} and len(body) == 3
    assert body[0]["status"] == "payable" and "5% of 200.00" in body[0]["explanation"]
    api_client.force_authenticate(dave)
    other = Commission.objects.filter(referrer=a0).first()
    assert api_client.get(f"/api/v1/commissions/{other.pk}/").status_code == 404
    assert len(api_client.get("/api/v1/commissions/", {"status": "pending"}).json()["results"]) == 0


def test_commission_list_query_count(api_client, alice, members, codes, make_order, django_assert_max_num_queries):
    _commissions(members, codes, make_order, n=30)
    api_client.force_authenticate(alice)
    with django_assert_max_num_queries(6):
        body = api_client.get("/api/v1/commissions/", {"page_size": 100}).json()
    assert len(body["results"]) == 31


def test_mark_paid_by_api(api_client, alice, bob, key_client, members, codes, make_order):
    _commissions(members, codes, make_order)
    ids = list(Commission.objects.filter(status="payable").values_list("pk", flat=True))
    api_client.force_authenticate(bob)
    assert api_client.post("/api/v1/commissions/mark-paid/", {"ids": ids}).status_code == 403
    api_client.force_authenticate(alice)
    bad = api_client.post("/api/v1/commissions/mark-paid/", {"ids": ids + [987654]})
    assert bad.status_code == 404 and "987654" in str(bad.json()["error"]["details"])
    assert not Commission.objects.filter(status="paid").exists()
    ok = api_client.post("/api/v1/commissions/mark-paid/", {"ids": ids[:2]})
    assert ok.status_code == 200 and ok.json() == {"marked_paid": 2}
    twice = api_client.post("/api/v1/commissions/mark-paid/", {"ids": ids[:1]})
    assert twice.status_code == 400 and "Paid" in str(twice.json()["error"]["details"])
    client = key_client(scopes=["commissions:read", "commissions:write"])
    assert client.post("/api/v1/commissions/mark-paid/", {"ids": ids[2:3]}).status_code == 200
    assert Commission.objects.filter(status="paid").count() == 3


def test_store_key_sees_only_its_store(key_client, store_b, members, codes, make_order):
    _commissions(members, codes, make_order)
    client = key_client(scopes=["commissions:read"], store=store_b)
    assert len(client.get("/api/v1/commissions/").json()["results"]) == 1


def test_openapi_schema_has_referrals_without_warnings(api_client, alice, capsys):
    api_client.force_authenticate(alice)
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
