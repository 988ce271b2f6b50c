"""Channel codes and the corp tags page in a real Chromium: a store manager creates a code through the
form, sees its QR once WeCom made it and downloads the poster PNG; the list fits 1280 px and 390 px
without sideways scrolling of the page; the tags page shows the conflict rule."""

from __future__ import annotations

import pytest

from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_creates_a_code_and_downloads_its_qr(browser, live_server, corp, bob, store_a, shot):
    from wecom.models import ChannelCode, WecomStaff
    from wecom.services import channels

    staff = WecomStaff.objects.create(userid=corp.corp.staff[0], store=store_a)
    ctx, page = login(browser, live_server, "bob", **DESKTOP)
    page.goto(f"{live_server.url}/wecom/channels/")
    page.get_by_test_id("new-code").click()
    page.fill("#id_name", "南京西路店门口")
    page.select_option("#id_store", str(store_a.pk))
    page.select_option("#id_staff", [str(staff.pk)])
    page.check("#id_welcome_enabled")
    page.fill("#id_welcome_text", "欢迎光临！")
    page.locator("[data-testid=code-form] button.primary").click()
    page.wait_for_load_state("networkidle")
    code = ChannelCode.objects.get(name="南京西路店门口")
    assert code.store_id == store_a.pk and code.welcome_enabled
    channels.push_code(code_id=code.pk)  # what the worker does
    page.reload()
    assert page.get_by_test_id("qr-png").is_visible()
    assert page.evaluate("() => document.querySelector('[data-testid=qr-image]').naturalWidth") > 0
    with page.expect_download() as download:
        page.get_by_test_id("qr-png").click()
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    shot(page, "wecom-channel-code-1280")
    page.goto(f"{live_server.url}/wecom/channels/")
    assert code.state in page.get_by_test_id("code-table").inner_text()
    assert page.evaluate(OVERFLOW) <= 0
    ctx.close()

    ctx, page = login(browser, live_server, "bob", **PHONE)
    page.goto(f"{live_server.url}/wecom/channels/")
    assert page.get_by_test_id("code-table").is_visible()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "wecom-channel-list-390")
    ctx.close()


def test_tags_page_shows_the_rule(browser, live_server, corp, alice, shot):
    from wecom.services import tags

    tags.sync_tags()
    for context in (DESKTOP, PHONE):
        ctx, page = login(browser, live_server, "alice", **context)
        page.goto(f"{live_server.url}/wecom/tags/")
        assert "WeCom's version wins" in page.get_by_test_id("tag-rule").inner_text()
        assert page.get_by_test_id("group-table").is_visible()
        assert page.evaluate(OVERFLOW) <= 0
        shot(page, f"wecom-tags-{context['viewport']['width']}")
        ctx.close()
