"""An operator on a desktop and a store clerk on a phone log in and see what their role allows."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_operator_sees_every_store_on_desktop(browser, live_server, alice, members, shot):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, "alice", "pw-alice")
    assert page.url == f"{live_server.url}/"
    assert page.inner_text("[data-testid=fig-members] .card-value") == "5"
    assert page.inner_text("[data-testid=fig-stores] .card-value") == "2"
    top = page.inner_text("[data-testid=top-stores]")
    assert "上海南京西路店" in top and "北京三里屯店" in top
    assert page.get_attribute("html", "lang") == "zh-hans"
    shot(page, "operator-overview-zh")

    page.click("nav.sidebar a[href='/members/']")
    table = page.inner_text("[data-testid=member-table]")
    assert "张0" in table and "李1" in table
    # Live search through htmx replaces only the rows.
    page.fill(".filters input[name=q]", "李")
    page.wait_for_function("() => !document.querySelector('[data-testid=member-table]').innerText.includes('张0')")
    assert "李0" in page.inner_text("[data-testid=member-table]")

    page.select_option(".topbar select[name=language]", "en")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("main h1") == "Members"
    page.goto(f"{live_server.url}/")
    shot(page, "operator-overview-en")
    context.close()


def test_store_clerk_sees_only_own_store_on_a_phone(browser, live_server, carol, members, shot):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    _login(page, live_server, "carol", "pw-carol")
    assert page.url == f"{live_server.url}/m/"
    assert page.inner_text("[data-testid=fig-my-members] .card-value") == "3"
    assert page.inner_text("[data-testid=fig-store-members] .card-value") == "3"
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "staff-phone-today")

    page.click("nav.m-tabs a[href='/m/members/']")
    listing = page.inner_text("[data-testid=mobile-member-list]")
    assert "张0" in listing and "张2" in listing
    assert "李" not in listing
    page.fill(".m-search input[name=q]", "张1")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=mobile-member-list]').innerText.includes('张2')"
    )
    assert "张1" in page.inner_text("[data-testid=mobile-member-list]")
    shot(page, "staff-phone-members")

    # Open a member, tap a tag, write a note: each one tap, no page reload.
    from members.models import MemberTag, ServiceNote, Tag, TagGroup

    Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    page.click("[data-testid=mobile-member-list] li:first-child a")
    page.wait_for_selector("[data-testid=quick-tags]")
    page.click("[data-testid=quick-tags] button:has-text('黑巧')")
    page.wait_for_selector("[data-testid=quick-tags] button.on:has-text('黑巧')")
    page.fill("textarea[name=body]", "喜欢 70% 黑巧")
    page.click(".note-form button[type=submit]")
    page.wait_for_selector("[data-testid=notes] li:has-text('喜欢 70% 黑巧')")
    shot(page, "staff-phone-member")
    assert MemberTag.objects.filter(tag__name="黑巧", added_by=carol).count() == 1
    assert ServiceNote.objects.filter(body="喜欢 70% 黑巧", author=carol).count() == 1

    # The clerk cannot reach the other store's data or the operator pages.
    response = page.goto(f"{live_server.url}/stores/")
    assert response.status == 403
    context.close()
