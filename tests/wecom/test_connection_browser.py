"""The connection page in a real Chromium: an operator tests the connection to the local WeCom
server and sees the result and the health it leaves; the page fits 1280 px and 390 px."""

from __future__ import annotations

import pytest

from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("size", "context"), [("1280", DESKTOP), ("390", PHONE)])
def test_operator_tests_the_connection(browser, live_server, alice, corp, settings, shot, size, context):
    ctx, page = login(browser, live_server, "alice", **context)
    try:
        page.goto(f"{live_server.url}/wecom/")
        assert page.get_by_test_id("mode").inner_text() == "Local WeCom server (demo)"
        assert page.get_by_test_id("callback-url").inner_text() == f"{live_server.url}/wecom/callback/"
        assert settings.WECOM_SECRET not in page.content()
        page.get_by_test_id("test-connection").click()
        page.wait_for_load_state("networkidle")
        result = page.get_by_test_id("test-result").inner_text()
        assert "Connected" in result and f"{len(corp.corp.staff)} staff" in result
        assert "never" not in page.get_by_test_id("connection-health").inner_text().split("Last error")[0]
        assert page.evaluate(OVERFLOW) <= 0
        shot(page, f"wecom-connection-{size}")
    finally:
        ctx.close()
