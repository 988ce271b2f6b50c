"""Customer groups in a real Chromium: a store manager's groups list (their store's groups only, with
member counts) and a group's page with its members, whose known customers link to their member
pages; both fit 1280 px and 390 px without sideways scrolling of the page."""

from __future__ import annotations

import pytest

from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def synced(make_corp, alice, bob, carol, dave):
    from wecom.models import SyncKind
    from wecom.services import sync

    make_corp(staff=["carol", "dave"], contacts_per_staff=30, groups_per_staff=2)
    for kind in (SyncKind.CONTACTS, SyncKind.GROUPS):
        run = sync.start_run(kind=kind, actor=alice).run
        while sync.run_step(run_id=run.pk) == "more":
            pass


def test_groups_list_and_group_page_at_desktop_and_phone(browser, live_server, synced, bob, store_a, shot):
    from wecom.models import CustomerGroup

    own = CustomerGroup.objects.filter(store=store_a).order_by("name", "id")
    other = CustomerGroup.objects.exclude(store=store_a).first()
    group = own.first()
    for context in (DESKTOP, PHONE):
        width = context["viewport"]["width"]
        ctx, page = login(browser, live_server, "bob", **context)
        page.goto(f"{live_server.url}/wecom/groups/")
        table = page.get_by_test_id("group-table")
        assert table.is_visible()
        text = table.inner_text()
        assert all(g.name in text for g in own) and other.chat_id not in page.content()
        assert str(group.member_count) in text
        assert page.evaluate(OVERFLOW) <= 0
        shot(page, f"wecom-groups-{width}")

        page.get_by_role("link", name=group.name).first.click()
        page.wait_for_load_state("networkidle")
        assert group.notice in page.get_by_test_id("group-facts").inner_text()
        members = page.get_by_test_id("group-members")
        assert members.is_visible()
        links = members.locator("a[href^='/members/']")
        assert links.count() > 0
        assert page.evaluate(OVERFLOW) <= 0
        shot(page, f"wecom-group-{width}")
        links.first.click()
        page.wait_for_load_state("networkidle")
        assert "/members/" in page.url
        ctx.close()
