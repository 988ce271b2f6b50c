"""Points screens per role, in a real Chromium: the clerk redeems at the till on the phone, the
operator manages the catalogue and the policy, the manager reads them; plus the panel's guards."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.points import services
from loyalty.points.models import PointLot, PointsPolicy, Redemption, Reward
from tests.loyalty.points.conftest import balance


def login(browser, live_server, username, **context):
    ctx = browser.new_context(locale="en", **context)
    page = ctx.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return ctx, page


@pytest.fixture
def catalogue(db):
    return {
        "gift": Reward.objects.create(
            name="Coco 黑巧礼盒", kind="gift", points_cost=300, stock=12, description="12 颗 70% 黑巧"
        ),
        "coupon": Reward.objects.create(name="满299减30券", kind="coupon", points_cost=500, per_member_limit=2),
        "early": Reward.objects.create(name="新品尝鲜 · 抹茶生巧", kind="early_access", points_cost=5000),
    }


@pytest.fixture
def rich_member(policy, members, alice):
    member = members[0][0]
    services.adjust_points(member=member, points=1000, reason="开卡礼", actor=alice)
    PointLot.objects.filter(member=member).update(expires_at=timezone.now() + datetime.timedelta(days=20))
    services.adjust_points(member=member, points=320, reason="双十一补偿", actor=alice)
    return member


def test_clerk_redeems_a_gift_on_the_phone_after_confirming(browser, live_server, carol, rich_member, catalogue, shot):
    ctx, page = login(
        browser, live_server, "carol", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page.goto(f"{live_server.url}{reverse('mobile-member-detail', args=[rich_member.pk])}")
    panel = page.get_by_test_id("points-panel")
    assert panel.get_by_test_id("points-balance").inner_text() == "1320"
    assert "1000 pts expire on" in panel.get_by_test_id("points-expiring").inner_text()
    assert panel.locator(f"input[value='{catalogue['early'].pk}']").is_disabled()  # 5000 pts: too dear
    shot(page, "points-phone-before")
    assert (
        "Not enough points (3680 short)"
        in panel.locator(f"label:has(input[value='{catalogue['early'].pk}'])").inner_text()
    )
    assert panel.get_by_test_id("points-redeem").is_disabled()  # nothing chosen yet
    panel.get_by_text("Coco 黑巧礼盒").tap()  # tap 1: the gift
    panel.get_by_test_id("points-redeem").tap()  # tap 2: redeem…
    review = page.get_by_test_id("redeem-review")
    review.wait_for()
    assert review.get_by_test_id("review-cost").inner_text() == "−300"
    assert review.get_by_test_id("review-after").inner_text() == "1020"
    assert balance(rich_member) == 1320 and not Redemption.objects.exists()  # nothing deducted yet
    shot(page, "points-phone-confirm")
    review.get_by_test_id("redeem-confirm").tap()  # tap 3: deduct
    page.wait_for_load_state("networkidle")
    panel = page.get_by_test_id("points-panel")
    panel.get_by_role("status").wait_for()
    assert "Coco 黑巧礼盒 redeemed for 300 pts." in panel.get_by_role("status").inner_text()
    assert panel.get_by_test_id("points-balance").inner_text() == "1020"
    assert "Redeemed Coco 黑巧礼盒 (Gift): 300 pts" in panel.get_by_test_id("points-ledger").inner_text()
    shot(page, "points-phone-after")
    redemption = Redemption.objects.get()
    assert (redemption.created_by, redemption.store) == (carol, carol.store)
    catalogue["gift"].refresh_from_db()
    assert catalogue["gift"].stock == 11
    ctx.close()


def test_operator_manages_the_catalogue_and_policy(browser, live_server, alice, policy, catalogue, shot):
    ctx, page = login(browser, live_server, "alice", viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}{reverse('reward-list')}")
    page.get_by_test_id("reward-add").click()
    form = page.get_by_test_id("reward-form")
    form.locator("#id_name").fill("会员日限定 · 定制刻字")
    form.locator("#id_kind").select_option("gift")
    form.locator("#id_points_cost").fill("0")
    form.locator("button[type=submit]").click()
    assert "Ensure this value is greater than or equal to 1." in page.get_by_test_id("reward-form").inner_text()
    page.get_by_test_id("reward-form").locator("#id_points_cost").fill("800")
    page.get_by_test_id("reward-form").locator("#id_stock").fill("50")
    page.get_by_test_id("reward-form").locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "会员日限定 · 定制刻字" in page.get_by_test_id("reward-table").inner_text()
    shot(page, "points-rewards-operator")
    page.goto(f"{live_server.url}{reverse('points-policy')}")
    form = page.get_by_test_id("policy-form")
    form.locator("#id_tier_multipliers").fill("4 = 1.5\n5 = 2")
    form.locator("#id_category_multipliers").fill("milk powder = 2")
    form.locator("#id_birthday_multiplier").fill("2")
    form.locator("button[type=submit]").click()
    page.click("#confirm-dialog button[value=ok]")  # the confirmation dialog
    page.locator(".messages").get_by_text("Points policy saved.").wait_for()
    shot(page, "points-policy-operator")
    saved = PointsPolicy.current()
    assert saved.tier_multipliers == {"4": 1.5, "5": 2.0} and saved.category_multipliers == {"milk powder": 2.0}
    page.get_by_test_id("policy-form").locator("#id_tier_multipliers").fill("gold = 2")
    page.get_by_test_id("policy-form").locator("button[type=submit]").click()
    page.click("#confirm-dialog button[value=ok]")
    page.get_by_test_id("policy-form").get_by_text("a tier rank is a whole number").wait_for()
    assert PointsPolicy.current().tier_multipliers == {"4": 1.5, "5": 2.0}
    ctx.close()


def test_manager_reads_the_catalogue_and_the_member_panel(browser, live_server, bob, rich_member, catalogue, shot):
    ctx, page = login(browser, live_server, "bob", viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}{reverse('reward-list')}")
    assert "Coco 黑巧礼盒" in page.get_by_test_id("reward-table").inner_text()
    assert page.get_by_test_id("reward-add").count() == 0
    shot(page, "points-rewards-manager")
    page.goto(f"{live_server.url}{reverse('member-detail', args=[rich_member.pk])}")
    panel = page.get_by_test_id("points-panel")
    assert panel.get_by_test_id("points-balance").inner_text() == "1320"
    assert "Adjusted by +320 pts: 双十一补偿" in panel.get_by_test_id("points-ledger").inner_text()
    assert panel.locator(".points-adjust").count() == 0  # adjustments are for operators
    panel.scroll_into_view_if_needed()
    shot(page, "points-member-panel-manager")
    response = page.goto(f"{live_server.url}{reverse('points-policy')}")
    assert response.status == 403
    ctx.close()


def test_operator_adjusts_from_the_panel_and_reads_the_whole_history(client, alice, rich_member):
    client.force_login(alice)
    url = reverse("member-points-adjust", args=[rich_member.pk])
    body = client.post(url, {"points": "-2000", "reason": "x"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'role="alert"' in body and "Cannot remove 2000 pts" in body
    body = client.post(url, {"points": "80", "reason": "生日礼"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Adjusted by +80 pts." in body and balance(rich_member) == 1400
    page = client.get(reverse("member-points", args=[rich_member.pk])).content.decode()
    assert "Adjusted by +80 pts: 生日礼" in page and "1400" in page


def test_panel_actions_stay_in_the_store(client, carol, dave, rich_member, catalogue):
    client.force_login(dave)
    url = reverse("member-points-redeem", args=[rich_member.pk])
    assert client.post(url, {"reward": catalogue["gift"].pk}).status_code == 404
    assert client.get(reverse("member-points", args=[rich_member.pk])).status_code == 404
    client.force_login(carol)
    assert (
        client.post(reverse("member-points-adjust", args=[rich_member.pk]), {"points": "5", "reason": "x"}).status_code
        == 403
    )
    assert client.get(reverse("points-policy")).status_code == 403
    assert client.get(reverse("redemption-list")).status_code == 403
    assert balance(rich_member) == 1320 and not Redemption.objects.exists()


def test_cancel_from_the_panel(client, carol, rich_member, catalogue):
    redemption = services.redeem(member=rich_member, reward=catalogue["gift"], actor=carol)
    client.force_login(carol)
    body = client.post(
        reverse("member-points-cancel", args=[rich_member.pk, redemption.pk]),
        {"from": "mobile"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Redemption cancelled; 300 pts returned." in body and balance(rich_member) == 1320


def test_member_page_query_count_with_points(client, alice, rich_member, catalogue, django_assert_max_num_queries):
    for _ in range(3):
        services.redeem(member=rich_member, reward=catalogue["gift"], actor=alice)
    from loyalty.points import queries

    # The panel's own queries stay constant however many entries and rewards there are
    # (balance, expiry dates, entries, tier, rewards, policy, tier tables check).
    with django_assert_max_num_queries(7):
        queries.member_panel(rich_member, alice)
    client.force_login(alice)
    with django_assert_max_num_queries(10):
        assert client.get(reverse("reward-list")).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("member-points", args=[rich_member.pk])).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(reverse("redemption-list")).status_code == 200
