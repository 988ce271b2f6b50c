"""The dashboard on a 390 px phone, in a real Chromium: no page of a sample scrolls sideways, the
menu folds behind a button that opens it, a page below a list leads back to the list as it was
left; the clerk's member card shows the quick tags in its first screen; the points panel will not
redeem what a member cannot afford and asks before deducting; confirmations ask in the page's
dialog."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
OVERFLOW = "() => document.scrollingElement.scrollWidth - window.innerWidth"


def login(browser, live_server, username, password, locale="en", **context):
    ctx = browser.new_context(locale=locale, **context)
    page = ctx.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return ctx, page


@pytest.fixture
def demo_brand(db):
    """The demo brand (stores, staff, members with tags, orders, tiers, points, referrals): wide
    tables and long names, as a real brand has."""
    from scrm import demo

    result = demo.seed(password="pw-demo-layout")
    demo.seed_apps(members=60)
    return result


def test_no_sample_page_scrolls_sideways_on_a_phone(browser, live_server, demo_brand, shot):
    from loyalty.orders.models import Order
    from members.models import Member

    member = Member.live.order_by("id").first()
    order = Order.objects.order_by("id").first()
    operator = demo_brand.logins[0][1]
    ctx, page = login(browser, live_server, operator, "pw-demo-layout", locale="zh-CN", **PHONE)
    pages = {
        "home": reverse("home"),
        "member-list": reverse("member-list"),
        "member-detail": reverse("member-detail", args=[member.pk]),
        "member-points": reverse("member-points", args=[member.pk]),
        "segments": reverse("segment-list"),
        "orders": reverse("order-list"),
        "order-detail": reverse("order-detail", args=[order.pk]),
        "rewards": reverse("reward-list"),
        "points-policy": reverse("points-policy"),
        "tiers": reverse("tier-ladder"),
        "tiers-edit": reverse("tier-ladder-edit"),
        "commissions": reverse("commission-list"),
        "staff": reverse("staff-list"),
        "stores": reverse("store-list"),
    }
    overflowing = {}
    for name, url in pages.items():
        response = page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        assert response.status == 200, name
        extra = page.evaluate(OVERFLOW)
        if extra > 0:
            overflowing[name] = extra
        shot(page, f"phone-layout-{name}")
    assert overflowing == {}, f"pages wider than the phone (px too wide): {overflowing}"
    ctx.close()


def test_the_menu_opens_from_its_button_and_a_detail_page_leads_back(browser, live_server, alice, members, shot):
    ctx, page = login(browser, live_server, "alice", "pw-alice", **PHONE)
    nav = page.get_by_test_id("sidebar")
    toggle = page.get_by_test_id("nav-toggle")
    assert toggle.is_visible() and not nav.is_visible()  # folded: the page starts with its content
    assert page.locator("main h1").bounding_box()["y"] < 120
    toggle.tap()
    assert nav.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    members_link = nav.locator(f"a[href='{reverse('member-list')}']")
    box = members_link.bounding_box()
    assert box["width"] > 200 and box["height"] < 60  # a full-width row, not a letter per line
    shot(page, "phone-menu-open")
    members_link.tap()
    page.wait_for_url(f"{live_server.url}{reverse('member-list')}")
    page.wait_for_load_state("networkidle")
    assert not page.get_by_test_id("sidebar").is_visible()
    # A search narrows the list; the member's page leads back to that same search.
    page.goto(f"{live_server.url}{reverse('member-list')}?q=%E5%BC%A0")
    page.locator("[data-testid=member-table] a[href^='/members/']").first.tap()
    page.wait_for_url(lambda url: "/members/" in url and "?q=" not in url)
    page.wait_for_load_state("networkidle")
    back = page.get_by_test_id("back-link")
    assert back.get_attribute("href") == f"{reverse('member-list')}?q=%E5%BC%A0"
    # On a wide screen the menu is the sidebar, always open, with no button.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.get_by_test_id("sidebar").is_visible() and not page.get_by_test_id("nav-toggle").is_visible()
    ctx.close()


@pytest.fixture
def tag_board(db):
    from members.models import Tag, TagGroup

    groups = {
        "口味偏好": ["低糖", "坚果夹心", "牛奶巧", "白巧", "黑巧"],
        "购买场景": ["儿童零食", "办公室分享", "婚礼喜糖", "自用解馋", "节日送礼"],
        "渠道偏好": ["天猫", "小程序", "小红书", "抖音直播", "门店"],
        "兴趣社群": ["亲子手作", "咖啡", "烘焙同好", "跑步"],
        "人群": ["企业采购", "学生", "宝妈", "白领"],
    }
    for order, (group, names) in enumerate(groups.items()):
        g = TagGroup.objects.create(name=group, sort_order=order)
        for name in names:
            Tag.objects.create(group=g, name=name)


@pytest.fixture
def counter(db, members, alice):
    """The points programme on, a few rewards, a member with some points and notes."""
    from loyalty.points import services
    from loyalty.points.models import PointsPolicy, Reward
    from members.models import ServiceNote

    PointsPolicy.objects.create(pk=1, points_per_unit=1, expiry_mode="period_end", expiry_years=1)
    rewards = [
        Reward.objects.create(name="Coco 黑巧礼盒", kind="gift", points_cost=300, stock=12),
        Reward.objects.create(name="满299减30券", kind="coupon", points_cost=500),
        Reward.objects.create(name="新品尝鲜 · 抹茶生巧", kind="early_access", points_cost=5000),
    ]
    member, broke = members[0][0], members[0][1]
    services.adjust_points(member=member, points=800, reason="开卡礼", actor=alice)
    services.redeem(member=member, reward=rewards[0], actor=alice)
    for i in range(8):
        ServiceNote.objects.create(member=member, author=alice, body=f"第 {i} 次到店，试吃了黑巧")
    return {"member": member, "broke": broke, "rewards": rewards}


def test_the_clerks_card_shows_the_quick_tags_in_its_first_screen(
    browser, live_server, carol, tag_board, counter, shot
):
    from members.models import MemberTag

    ctx, page = login(browser, live_server, "carol", "pw-carol", **PHONE)
    # Today's newest members are links to their cards.
    recent = page.get_by_test_id("today-recent").locator("a").first
    assert recent.get_attribute("href").startswith("/m/members/")
    page.goto(f"{live_server.url}{reverse('mobile-member-detail', args=[counter['member'].pk])}")
    assert page.get_by_test_id("head-points").inner_text().startswith("500")
    chip = page.locator("[data-testid=quick-tags] button:has-text('黑巧')")
    box = chip.bounding_box()
    assert box["y"] + box["height"] <= 844, "the tag is below the first screen"
    assert page.locator("textarea[name=body]").count() == 1
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "phone-member-card")
    chip.tap()
    page.wait_for_selector("[data-testid=quick-tags] button.on:has-text('黑巧')")
    assert MemberTag.objects.filter(member=counter["member"], tag__name="黑巧", added_by=carol).exists()
    ctx.close()


def test_redeem_is_refused_at_zero_points_and_asks_before_deducting(browser, live_server, carol, counter, shot):
    from loyalty.points.models import Redemption

    ctx, page = login(browser, live_server, "carol", "pw-carol", **PHONE)
    page.goto(f"{live_server.url}{reverse('mobile-member-detail', args=[counter['broke'].pk])}")
    panel = page.get_by_test_id("points-panel")
    button = panel.get_by_test_id("points-redeem")
    assert button.is_disabled() and button.inner_text() == "Not enough points"
    assert panel.locator("input[name=reward]:not([disabled])").count() == 0
    assert "300" in panel.get_by_test_id("points-short").first.inner_text()
    shot(page, "phone-redeem-broke")

    # 500 points: the 5000-point reward is out of reach, the button waits for a choice.
    page.goto(f"{live_server.url}{reverse('mobile-member-detail', args=[counter['member'].pk])}")
    panel = page.get_by_test_id("points-panel")
    button = panel.get_by_test_id("points-redeem")
    dear = counter["rewards"][2]
    assert panel.locator(f"input[value='{dear.pk}']").is_disabled()
    assert "4500" in panel.locator(f"label:has(input[value='{dear.pk}'])").inner_text()
    assert button.is_disabled()
    panel.get_by_text("满299减30券").tap()
    assert button.is_enabled()
    button.tap()
    review = page.get_by_test_id("redeem-review")
    review.wait_for()
    assert review.get_by_test_id("review-after").inner_text() == "0"
    assert Redemption.objects.filter(member=counter["member"]).count() == 1  # only the fixture's
    review.get_by_test_id("redeem-confirm").tap()
    page.get_by_test_id("points-panel").get_by_role("status").wait_for()
    assert page.get_by_test_id("points-balance").inner_text() == "0"
    assert Redemption.objects.filter(member=counter["member"]).count() == 2
    ctx.close()


def test_cancelling_a_redemption_asks_in_the_pages_dialog(browser, live_server, alice, counter, shot):
    from loyalty.points.models import Redemption, RedemptionStatus

    ctx, page = login(browser, live_server, "alice", "pw-alice", viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}{reverse('member-detail', args=[counter['member'].pk])}")
    cancel = page.get_by_test_id("points-panel").get_by_role("button", name="Cancel redemption")
    cancel.click()
    dialog = page.locator("#confirm-dialog")
    assert dialog.is_visible() and "return the points" in dialog.inner_text()
    shot(page, "confirm-dialog")
    dialog.locator("button[value=cancel]").click()
    assert not dialog.is_visible()
    page.wait_for_timeout(300)
    assert Redemption.objects.get(member=counter["member"]).status == RedemptionStatus.REDEEMED
    cancel.click()
    dialog.locator("button[value=ok]").click()
    page.get_by_test_id("points-panel").get_by_role("status").wait_for()
    assert Redemption.objects.get(member=counter["member"]).status == RedemptionStatus.CANCELLED
    ctx.close()
