"""Tier screens per role: the ladder editor (operators; errors at the level's field), distribution
and movement (operators, managers), and the member 360 tier panel on desktop and phone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty.tiers import services
from loyalty.tiers.models import MemberTier, TierLadder, TierLevel

from .conftest import LEVELS, place


def make_ladder():
    """The ladder written directly: no recalculation queued for a worker that is not running."""
    ladder = TierLadder.objects.create(pk=1, name="诺梵会员")
    for level in LEVELS:
        TierLevel.objects.create(ladder=ladder, **level)
    return ladder


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _desktop(browser):
    return browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US").new_page()


def _phone(browser):
    return browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    ).new_page()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_operator_edits_the_ladder_and_sees_errors_at_the_level(browser, live_server, alice, members, shot):
    from scrm.celery import app

    make_ladder()
    page = _desktop(browser)
    _login(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('tier-ladder-edit')}")
    page.fill("input[name=lv-2-threshold]", "900")  # below 可可达人's 1000
    page.click("form.ladder-form button[type=submit]")
    page.click("#confirm-dialog button[value=ok]")  # the confirmation dialog
    page.locator("tr[data-row='2'] .errorlist").wait_for()  # the form comes back with its errors
    row = page.locator("tr[data-row='2']")
    assert "可可达人" in row.inner_text() or "rank 2" in row.inner_text(), row.inner_text()
    assert row.locator(".errorlist").count() == 1
    shot(page, "tiers-ladder-edit-error")
    assert TierLevel.objects.get(rank=3).threshold == 5000
    page.fill("input[name=lv-2-threshold]", "6000")
    page.fill("input[name=lv-3-rank]", "4")
    page.fill("input[name=lv-3-name]", "可可传奇")
    page.fill("input[name=lv-3-threshold]", "20000")
    page.select_option("select[name=downgrade_policy]", "grace")
    page.click("form.ladder-form button[type=submit]")
    page.click("#confirm-dialog button[value=ok]")  # the confirmation dialog
    page.wait_for_url(f"{live_server.url}{reverse('tier-ladder')}")
    assert "可可传奇" in page.inner_text("[data-testid=ladder]")
    shot(page, "tiers-ladder-operator")
    assert list(TierLevel.objects.order_by("rank").values_list("threshold", flat=True)) == [0, 1000, 6000, 20000]
    app.control.purge()  # the recalculation the save queued is tested with a worker elsewhere


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_sees_the_distribution_of_their_store(browser, live_server, bob, members, shot):
    make_ladder()
    (a0, a1, _a2), (b0, _b1) = members
    place(a0, 1500)
    place(b0, 7000)
    services.recalculate_tiers()
    place(a1, 6000)
    services.recalculate_tiers()
    page = _desktop(browser)
    _login(page, live_server, "bob")
    page.goto(f"{live_server.url}{reverse('tier-distribution')}")
    text = page.inner_text("[data-testid=distribution]")
    assert "可可大师\n\n1" in text or "可可大师\t\t1" in text or text.count("1") >= 2, text
    assert page.inner_text("[data-testid=upgrades]") == "1"  # a1 moved up
    assert page.inner_text("[data-testid=entered]") == "3"  # the 3 members of A ranked for the first time
    assert page.locator("[data-testid=per-store]").count() == 0
    shot(page, "tiers-distribution-manager")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_member_panel_on_the_phone_and_a_floor_on_desktop(browser, live_server, carol, bob, members, shot):
    make_ladder()
    member = members[0][0]
    place(member, 1200)
    services.recalculate_tiers()
    phone = _phone(browser)
    _login(phone, live_server, "carol")
    phone.goto(f"{live_server.url}{reverse('mobile-member-detail', args=[member.pk])}")
    panel = phone.locator("[data-testid=tier-panel]")
    assert panel.locator("[data-testid=tier-level]").inner_text() == "可可达人"
    assert "3,800" in panel.locator("[data-testid=tier-next]").inner_text()
    assert panel.locator("summary").count() == 0  # clerks cannot set floors
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "tiers-panel-phone-clerk")

    page = _desktop(browser)
    _login(page, live_server, "bob")
    page.goto(f"{live_server.url}{reverse('member-detail', args=[member.pk])}")
    page.click("#tier summary")
    page.select_option("#tier select[name=level]", label="可可大师")
    page.click("#tier button[type=submit]")  # no reason: the error shows in the panel
    page.click("#confirm-dialog button[value=ok]")  # the confirmation dialog
    assert "Say why" in page.locator("#tier [role=alert]").inner_text()
    assert page.locator("#tier details").get_attribute("open") is not None  # the form stays open on an error
    page.select_option("#tier select[name=level]", label="可可大师")
    page.fill("#tier input[name=reason]", "Moved from the brand's old loyalty club")
    page.click("#tier button[type=submit]")
    page.click("#confirm-dialog button[value=ok]")  # the confirmation dialog
    page.wait_for_selector("[data-testid=tier-floor]")
    assert page.locator("[data-testid=tier-level]").inner_text() == "可可大师"
    shot(page, "tiers-panel-desktop-manager")
    assert MemberTier.objects.get(member=member).floor_reason == "Moved from the brand's old loyalty club"


# --- without a browser: roles and query counts ------------------------------------------------------


@pytest.mark.django_db
def test_roles_on_the_tier_screens(client, alice, bob, carol, members):
    make_ladder()
    client.force_login(carol)
    assert client.get(reverse("tier-ladder")).status_code == 200
    assert client.get(reverse("tier-ladder-edit")).status_code == 403
    assert client.get(reverse("tier-distribution")).status_code == 403
    client.force_login(bob)
    assert client.get(reverse("tier-ladder-edit")).status_code == 403
    assert client.get(reverse("tier-distribution")).status_code == 200
    assert client.post(reverse("member-tier-floor", args=[members[1][0].pk]), {"level": ""}).status_code == 404
    client.force_login(alice)
    assert client.get(reverse("tier-ladder-edit")).status_code == 200


@pytest.mark.django_db
def test_tier_pages_query_counts_are_bounded(client, alice, members, store_a, django_assert_max_num_queries):
    from members.models import Member

    make_ladder()
    for i in range(40):
        place(Member.objects.create(name=f"m{i}", home_store=store_a), 300 * i)
    services.recalculate_tiers()
    client.force_login(alice)
    with django_assert_max_num_queries(10):
        client.get(reverse("tier-distribution"))
    with django_assert_max_num_queries(8):
        client.get(reverse("tier-ladder"))
    from loyalty.tiers import queries

    assert client.get(reverse("member-detail", args=[members[0][0].pk])).status_code == 200
    # The tier panel's share of the member page: ladder levels, the member's tier, recent history.
    with django_assert_max_num_queries(3):
        queries.member_panel(members[0][0], alice)
