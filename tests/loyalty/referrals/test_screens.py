"""Referral screens per role: rules and commissions (operators; managers read commissions), the
member 360 panel on desktop and phone, the public landing page; a browser run of the main path."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.referrals import services
from loyalty.referrals.models import Commission, CommissionRule, Referral, ReferralCode


def _paid_setup(members, codes, make_order, n=2):
    (a0, a1, _a2), (b0, b1) = members
    CommissionRule.objects.get_or_create(name="any", defaults={"rate": Decimal("5")})
    placed = timezone.now() - timedelta(days=10)
    orders = [make_order(member=a1, code=codes[a0.pk].code, placed_at=placed) for _ in range(n)]
    orders.append(make_order(member=b1, code=codes[b0.pk].code, placed_at=placed))
    orders.append(make_order(member=a1, code=codes[a0.pk].code))  # still pending
    services.sync_commissions(order_ids=[o.pk for o in orders])
    services.release_due_commissions()


def test_rules_page_is_for_operators(client, alice, bob, carol):
    for user, expected in ((alice, 200), (bob, 403), (carol, 403)):
        client.force_login(user)
        assert client.get(reverse("commission-rule-list")).status_code == expected


def test_operator_adds_edits_and_is_told_about_bad_rules(client, alice):
    client.force_login(alice)
    data = {
        "name": "天猫 5%",
        "channel": "tmall",
        "category": "",
        "rate": "5",
        "fixed_amount": "0",
        "return_window_days": "15",
        "priority": "0",
        "is_active": "on",
    }
    assert client.post(reverse("commission-rule-create"), data).status_code == 302
    rule = CommissionRule.objects.get()
    twin = client.post(reverse("commission-rule-create"), {**data, "name": "twin"})
    assert twin.status_code == 400 and "same channel, category and priority" in twin.content.decode()
    page = client.get(reverse("commission-rule-list")).content.decode()
    assert "天猫 5%" in page and "15 days" in page
    edit = client.post(reverse("commission-rule-edit", args=[rule.pk]), {**data, "rate": "7"})
    assert edit.status_code == 302
    assert CommissionRule.objects.get().rate == Decimal("7")
    assert CommissionRule.objects.count() == 1


def test_commission_list_roles_and_bulk_mark_paid(client, alice, bob, carol, members, codes, make_order):
    _paid_setup(members, codes, make_order)
    client.force_login(carol)
    assert client.get(reverse("commission-list")).status_code == 403
    client.force_login(bob)
    page = client.get(reverse("commission-list"))
    assert len(page.context["object_list"]) == 3  # store A's referrer only
    assert 'name="ids"' not in page.content.decode()  # managers read, operators pay
    payable = list(
        Commission.objects.filter(status="payable", referrer__home_store=bob.store).values_list("pk", flat=True)
    )
    assert client.post(reverse("commission-mark-paid"), {"ids": payable}).status_code == 403
    client.force_login(alice)
    page = client.get(reverse("commission-list"), {"status": "payable"})
    assert len(page.context["object_list"]) == 3
    response = client.post(reverse("commission-mark-paid"), {"ids": payable}, follow=True)
    assert "2 commissions marked paid" in response.content.decode()
    assert Commission.objects.filter(status="paid").count() == 2


def test_commission_list_query_count(client, alice, members, codes, make_order, django_assert_max_num_queries):
    _paid_setup(members, codes, make_order, n=40)
    client.force_login(alice)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("commission-list"))
    assert len(response.context["object_list"]) == 42


def test_member_panel_on_desktop_and_phone(client, carol, members, codes, make_order, django_assert_max_num_queries):
    _paid_setup(members, codes, make_order)
    (a0, a1, a2), _ = members
    Referral.objects.create(member=a0, referrer=members[1][0], code=codes[members[1][0].pk].code, source="api")
    client.force_login(carol)
    body = client.get(reverse("member-detail", args=[a0.pk])).content.decode()
    assert codes[a0.pk].code in body and f"/r/{codes[a0.pk].code}" in body
    assert "a member of another store" in body  # the referrer's name stays in their store
    assert members[1][0].name not in body
    panel = client.get(reverse("mobile-member-detail", args=[a0.pk])).content.decode()
    assert 'data-testid="referral-panel"' in panel and 'data-testid="referred-count">1<' in panel
    assert "20.00" in panel  # two payable commissions of 10.00
    body = client.get(reverse("member-detail", args=[a1.pk])).content.decode()
    assert a0.name in body  # a1 was referred by a0 (same store)
    ReferralCode.objects.filter(member=a2).delete()
    assert "Create a code" in client.get(reverse("member-detail", args=[a2.pk])).content.decode()
    client.post(reverse("referral-code-create", args=[a2.pk]), {"from": "mobile"})
    assert ReferralCode.objects.filter(member=a2).exists()
    other = members[1][1]
    assert client.post(reverse("referral-code-create", args=[other.pk])).status_code == 404


def test_landing_page_shows_no_personal_data(client, members, codes, settings):
    (a0, *_), _ = members
    settings.SIYU_BRAND_NAME = "可可私享"
    body = client.get(f"/r/{codes[a0.pk].code.lower()}").content.decode()
    assert codes[a0.pk].code in body and "可可私享" in body and "Your friend invited you" in body
    assert a0.name not in body and a0.phone[-4:] not in body
    assert client.get("/r/NOSUCHCODE").status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_operator_pays_commissions_in_a_browser(browser, live_server, alice, carol, members, codes, make_order, shot):
    _paid_setup(members, codes, make_order)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/referrals/rules/")
    page.fill("[data-testid=rule-form] #id_name", "母婴奶粉 8%")
    page.fill("[data-testid=rule-form] #id_category", "milk powder")
    page.fill("[data-testid=rule-form] #id_rate", "8")
    page.click("[data-testid=rule-form] button.primary")
    assert "母婴奶粉 8%" in page.inner_text("[data-testid=rule-table]")
    shot(page, "referrals-rules-operator")
    page.goto(f"{live_server.url}/referrals/commissions/")
    assert page.inner_text("[data-testid=total-payable]") == "30.00"
    boxes = page.locator("input[name=ids]")
    assert boxes.count() == 3
    boxes.nth(0).check()
    boxes.nth(1).check()
    shot(page, "referrals-commissions-operator")
    page.click("[data-testid=mark-paid]")
    page.click("#confirm-dialog button[value=ok]")  # the confirmation dialog
    page.wait_for_load_state("networkidle")
    assert "2 commissions marked paid" in page.inner_text(".messages")
    assert page.inner_text("[data-testid=total-paid]") == "20.00"
    page.goto(f"{live_server.url}/members/{members[0][0].pk}/")
    shot(page, "referrals-member-panel-operator")
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "carol")
    page.fill("#id_password", "pw-carol")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/m/members/{members[0][0].pk}/")
    assert page.inner_text("[data-testid=referral-code]") == codes[members[0][0].pk].code
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "referrals-member-panel-phone")
    page.goto(f"{live_server.url}/r/{codes[members[0][0].pk].code}")
    shot(page, "referrals-landing-phone")
    phone.close()
