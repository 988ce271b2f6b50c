"""Order screens in a real Chromium: the operator's list and an order's page with a refund, the store
manager's scoped list, and the member 360 orders panel on the desktop and on a clerk's phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.orders import services
from tests.loyalty.orders.data import order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


@pytest.fixture
def shop(alice, members):
    now = timezone.now()
    member = members[0][0]
    for i in range(6):
        services.record_order(
            data=order(
                external_id=f"SH01-{i:04d}", member_id=member.pk, placed_at=(now - timedelta(days=20 * i)).isoformat()
            ),
            actor=alice,
        )
    services.record_order(data=order(external_id="BJ01-0001", store="BJ01", member_id=members[1][0].pk), actor=alice)
    services.record_order(
        data=order(
            external_id="TM-88",
            channel="tmall",
            store=None,
            lines=None,
            total_amount="59.90",
            buyer={"channel": "tmall", "namespace": "flagship", "external_id": "nick_88"},
        ),
        actor=alice,
    )
    return member


def test_operator_lists_opens_and_refunds(browser, live_server, shop, shot):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    page = context.new_page()
    _login(page, live_server, "alice")
    page.goto(f"{live_server.url}/orders/")
    table = page.inner_text("[data-testid=order-table]")
    assert "SH01-0000" in table and "BJ01-0001" in table and "Pending buyer" in table
    shot(page, "orders-list-operator")
    page.fill(".filters input[name=q]", "TM-88")
    page.wait_for_function("() => !document.querySelector('[data-testid=order-table]').innerText.includes('BJ01')")
    page.click("[data-testid=order-table] a:has-text('TM-88')")
    page.wait_for_selector("[data-testid=pending-buyer]")
    assert "nick_88" in page.inner_text("[data-testid=order-facts]")
    shot(page, "orders-detail-pending-buyer")
    page.goto(f"{live_server.url}/orders/")
    page.click("[data-testid=order-table] a:has-text('SH01-0000')")
    page.fill("[data-testid=refund-form] input[name=external_id]", "RF-1")
    page.fill("[data-testid=refund-form] input[name=amount]", "60")
    page.select_option("[data-testid=refund-form] select[name=line]", label="纸尿裤 L 52片 (60.00 / 60.00)")
    page.click("[data-testid=refund-form] button[type=submit]")
    page.click("#confirm-dialog button[value=ok]")  # the confirmation dialog
    page.wait_for_selector("text=Refund recorded.")
    assert "RF-1" in page.inner_text("[data-testid=refund-table]")
    assert "Partially refunded" in page.inner_text("main h1")
    shot(page, "orders-detail-refunded")
    context.close()


def test_store_manager_sees_own_store(browser, live_server, shop, bob, shot):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, "bob")
    page.goto(f"{live_server.url}/orders/")
    table = page.inner_text("[data-testid=order-table]")
    assert "SH01-0000" in table and "BJ01-0001" not in table and "TM-88" not in table
    shot(page, "orders-list-manager-zh")
    context.close()


def test_orders_panel_on_member_360_and_phone(browser, live_server, shop, carol, shot):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    page = context.new_page()
    _login(page, live_server, "alice")
    page.goto(f"{live_server.url}/members/{shop.pk}/")
    panel = page.inner_text("[data-testid=orders-panel]")
    assert "2148.00" in panel and "SH01-0000" in panel and "SH01-0005" not in panel  # 5 most recent
    shot(page, "orders-member-panel-desktop")
    context.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
    )
    page = phone.new_page()
    _login(page, live_server, "carol")
    page.goto(f"{live_server.url}/m/members/{shop.pk}/")
    panel = page.inner_text("[data-testid=orders-panel]")
    assert "6 orders" in panel and "2148.00" in panel
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "orders-member-panel-phone")
    phone.close()
