"""The disclosure rule on the screens and in exports: operators see full phones; store managers and
clerks see them masked in the member list, the 360 page, the clerk's phone views and the identities
table, and reveal one member's number with "Show phone" (POST, CSRF, audited, scoped)."""

from __future__ import annotations

import pytest
from django.test import Client

from members.io import exports
from members.models import Identity
from members.services import disclosure
from scrm.models import AuditLog
from scrm.services import api_keys

FULL_GROUPED = "+86 138 0013 0000"
MASKED = "+86 138****0000"


@pytest.fixture
def member(members):
    first = members[0][0]
    Identity.objects.create(member=first, channel="phone", external_id=first.phone)
    return first


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _pages(member):
    return [("/members/", True), (f"/members/{member.pk}/", False), ("/m/members/?all=1", True),
            (f"/m/members/{member.pk}/", False)]


@pytest.mark.parametrize(("who", "full"), [("alice", True), ("bob", False), ("carol", False)])
def test_screens_show_phones_as_the_rule_says(request, member, who, full):
    client = _client(request.getfixturevalue(who))
    for url, _listing in _pages(member):
        html = client.get(url).content.decode()
        assert (FULL_GROUPED in html) is full, (who, url)
        assert (MASKED in html) is not full, (who, url)
        if not full:
            assert "+8613800130000" not in html and "13800130000" not in html, (who, url)  # tel:, identities
        if not _listing:
            assert ('data-testid="show-phone"' in html) is not full, (who, url)


def test_show_phone_reveals_records_and_is_not_cached(member, bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    page = client.get(f"/members/{member.pk}/")
    token = page.cookies["csrftoken"].value
    refused = client.post(f"/members/{member.pk}/phone/", {"from": "desktop"})
    assert refused.status_code == 403  # no CSRF token
    shown = client.post(f"/members/{member.pk}/phone/", {"from": "desktop"}, HTTP_X_CSRFTOKEN=token,
                        HTTP_HX_REQUEST="true")
    assert shown.status_code == 200 and FULL_GROUPED in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    entry = AuditLog.objects.get(action=disclosure.REVEAL_ACTION)
    assert entry.user == bob and entry.object_id == str(member.pk) and entry.detail == {"via": "desktop",
                                                                                        "identities": 1}
    mobile = client.post(f"/members/{member.pk}/phone/", {"from": "mobile"}, HTTP_X_CSRFTOKEN=token,
                         HTTP_HX_REQUEST="true").content.decode()
    assert 'href="tel:+8613800130000"' in mobile
    assert client.get(f"/members/{member.pk}/phone/").status_code == 405


def test_show_phone_is_scoped(member, dave):
    assert _client(dave).post(f"/members/{member.pk}/phone/").status_code == 404
    assert not AuditLog.objects.filter(action=disclosure.REVEAL_ACTION).exists()


def test_show_phone_says_when_the_hourly_limit_is_reached(member, carol, settings):
    settings.MEMBER_REVEALS_PER_HOUR = 1
    client = _client(carol)
    assert client.post(f"/members/{member.pk}/phone/").status_code == 200
    refused = client.post(f"/members/{member.pk}/phone/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="reveal-error"' in refused and FULL_GROUPED not in refused
    assert client.post(f"/members/{member.pk}/phone/").status_code == 429
    assert AuditLog.objects.filter(action=disclosure.REVEAL_ACTION).count() == 1


def test_exports_follow_the_same_rule(alice, bob, store_a):
    def principal(scopes, store=None):
        from scrm.api.auth import ApiPrincipal

        return ApiPrincipal(api_keys.issue(name="k", scopes=scopes, store=store).api_key)

    assert exports.is_masked(alice) is False and exports.is_masked(bob) is True
    assert exports.is_masked(principal(["members:read", "phones:read"])) is False
    assert exports.is_masked(principal(["members:read"])) is True
    assert exports.is_masked(principal(["members:read", "phones:read"], store=store_a)) is True


def test_pending_buyer_phone_on_order_pages_follows_the_rule(alice, bob, store_a):
    from decimal import Decimal

    from django.utils import timezone

    from loyalty.orders.models import Order

    order = Order.objects.create(channel="pos", external_id="SH01-9", store=store_a, buyer_channel="phone",
                                 buyer_external_id="+8613800130000", total_amount=Decimal("10"),
                                 placed_at=timezone.now())
    for user, full in ((alice, True), (bob, False)):
        client = _client(user)
        for url in ("/orders/", f"/orders/{order.pk}/"):
            html = client.get(url).content.decode()
            assert ("+8613800130000" in html) is full, (user.username, url)
            assert (MASKED in html) is not full, (user.username, url)
