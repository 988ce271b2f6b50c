"""Searching members by phone in a real Chromium never puts the phone in a URL: not in the address
bar, not in the history, not in any request the page makes; on the desktop member list (by the
live search and by the Search button) and on the clerk's phone list."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13800130001"
PHONE_FORMS = (PHONE, "138 0013 0001", "8613800130001", "0130001")
SIZE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def _login(browser, live_server, username, **context):
    ctx = browser.new_context(locale="en", **context)
    page = ctx.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return ctx, page


def _watch(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.on("framenavigated", lambda frame: seen.append(frame.url))
    return seen


def _history(page) -> list[str]:
    urls = [page.url]
    for _ in range(4):
        if page.go_back(wait_until="networkidle") is None and page.url == urls[-1]:
            break
        urls.append(page.url)
    return urls


def _assert_clean(urls):
    for url in urls:
        assert not any(form.replace(" ", "%20") in url or form.replace(" ", "+") in url for form in PHONE_FORMS), url


def test_desktop_member_list_searches_by_phone_without_it_in_a_url(browser, live_server, members, bob):
    ctx, page = _login(browser, live_server, "bob")
    seen = _watch(page)
    page.goto(f"{live_server.url}/members/")
    with page.expect_response(lambda r: r.request.method == "POST" and "/members/" in r.url):
        page.fill("[data-testid=member-search] input[name=q]", PHONE)
    page.wait_for_load_state("networkidle")
    rows = page.locator("#rows").inner_text()
    assert members[0][1].name in rows and members[0][0].name not in rows
    assert "search=" in page.url
    _assert_clean([page.url])
    # The Search button (a plain submit) too, with another spelling of the number.
    page.fill("[data-testid=member-search] input[name=q]", "138 0013 0001")
    page.click("[data-testid=member-search] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert members[0][1].name in page.locator("#rows").inner_text()
    _assert_clean([page.url, *seen, *_history(page)])
    ctx.close()


def test_clerk_phone_list_searches_by_phone_without_it_in_a_url(browser, live_server, members, carol):
    ctx, page = _login(browser, live_server, "carol", **SIZE)
    seen = _watch(page)
    page.goto(f"{live_server.url}/m/members/?all=1")
    with page.expect_response(lambda r: r.request.method == "POST" and "/m/members/" in r.url):
        page.fill("[data-testid=member-search] input[name=q]", PHONE)
    page.wait_for_load_state("networkidle")
    listed = page.locator("[data-testid=mobile-member-list]").inner_text()
    assert members[0][1].name in listed and members[0][0].name not in listed
    assert "+86 138****0001" in listed  # and the clerk sees the number masked
    assert "search=" in page.url and "all=1" in page.url
    page.reload(wait_until="networkidle")  # the pushed URL stands on its own
    assert members[0][1].name in page.locator("[data-testid=mobile-member-list]").inner_text()
    _assert_clean([page.url, *seen, *_history(page)])
    ctx.close()
