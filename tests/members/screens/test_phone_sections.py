"""The KOC programme's block on the staff phone member page (the member card renders every panel other
apps register in members/panels.py): a creator's level, posts in the window and what the next level
needs; "waiting for a decision" for a pending applicant; nothing for a clerk on anyone else. In a real
Chromium at 390 px the page does not scroll sideways."""

from __future__ import annotations

import pytest
from django.test import Client

from members.models import Member
from tests.browsing import OVERFLOW, PHONE, login
from tests.koc.screens import conftest as koc_data
from tests.koc.screens.conftest import make_post

ladder, koc_programme = koc_data.ladder, koc_data.koc  # the KOC screens' ladder and creators, as fixtures here


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plain(store_a, carol):
    return Member.objects.create(name="王五", phone="+8613800139999", home_store=store_a, owner=carol)


@pytest.mark.django_db
def test_the_koc_block_on_the_phone_page(koc_programme, plain, carol):
    koc = koc_programme
    ca, application = koc["ca"], koc["application"]
    for n in range(2):
        make_post(ca, n, days_ago=3, views=100, interactions=10)
    ca.window_posts = 2  # what the last recalculation counted
    ca.save(update_fields=["window_posts"])
    clerk = client_for(carol)
    page = clerk.get(f"/m/members/{ca.member_id}/").content.decode()
    block = page.split('data-testid="koc-panel"')[1].split("</section>")[0]
    assert 'data-testid="koc-level">Junior<' in block
    assert "2 posts in the last" in block
    assert "For Intermediate:" in block and "3 more" in block
    pending = clerk.get(f"/m/members/{application.member_id}/").content.decode()
    assert 'data-testid="koc-application"' in pending.split('data-testid="koc-panel"')[1]
    assert 'data-testid="koc-panel"' not in clerk.get(f"/m/members/{plain.pk}/").content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_phone_page_fits_390_px(browser, live_server, koc_programme, carol, shot):
    koc = koc_programme
    ca = koc["ca"]
    make_post(ca, 1, days_ago=2, views=100, interactions=10)
    ctx, page = login(browser, live_server, "carol", **PHONE)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for member_id, name in ((ca.member_id, "creator"), (koc["application"].member_id, "applicant")):
        page.goto(f"{live_server.url}/m/members/{member_id}/")
        page.wait_for_load_state("networkidle")
        block = page.get_by_test_id("koc-panel")
        block.scroll_into_view_if_needed()
        assert block.is_visible()
        box = block.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert page.evaluate(OVERFLOW) <= 0, name
        shot(page, f"koc-phone-member-{name}-390")
    assert page.get_by_test_id("koc-application").is_visible()
    assert errors == []
    ctx.close()
