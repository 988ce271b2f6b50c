"""The chat-sidebar card and the handover page in a real Chromium: the card fits a 390 px phone
(WeCom's sidebar is narrower still) with no sideways scrolling, a tag chip and a note work through
htmx with the CSRF token, the look-up form outside WeCom opens the card; a handover's page fits
1280 px and 390 px."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def card_data(members, settings):
    from members.models import Tag, TagGroup
    from wecom.models import WecomContact

    settings.WECOM_AGENT_ID = ""  # demo mode: no WeCom client, the form names the customer
    group = TagGroup.objects.create(name="口味偏好")
    Tag.objects.create(group=group, name="黑巧克力")
    Tag.objects.create(group=group, name="牛奶巧克力")
    WecomContact.objects.create(external_userid="wmSidebarA", member=members[0][0])
    WecomContact.objects.create(external_userid="wmSidebarB", member=members[1][0])
    return members


def test_sidebar_card_on_a_phone_tags_and_notes(browser, live_server, carol, card_data, shot):
    from members.models import MemberTag, ServiceNote

    member = card_data[0][0]
    ctx, page = login(browser, live_server, "carol", **PHONE)
    page.goto(f"{live_server.url}{reverse('wecom-sidebar')}")
    page.get_by_test_id("external-userid").fill("wmSidebarA")
    page.get_by_role("button", name="Show the card").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("sidebar-card").is_visible()
    assert member.name in page.content()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "wecom-sidebar-card-390")

    chip = page.locator("#quick-tags button", has_text="黑巧克力")
    chip.click()
    page.wait_for_function("() => document.querySelector('#quick-tags button.chip.on') !== null")
    assert MemberTag.objects.filter(member=member, tag__name="黑巧克力").exists()

    page.fill("#notes-box textarea[name=body]", "喜欢 70% 黑巧")
    page.locator("#notes-box button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('#notes-box').textContent.includes('70%')")
    assert ServiceNote.objects.filter(member=member, body="喜欢 70% 黑巧").exists()
    shot(page, "wecom-sidebar-card-390-after")

    # Another store's customer: the friendly page, none of their data.
    response = page.goto(f"{live_server.url}{reverse('wecom-sidebar')}?external_userid=wmSidebarB")
    assert response.status == 404
    assert page.get_by_test_id("sidebar-unknown").is_visible()
    assert card_data[1][0].name not in page.content()
    assert page.evaluate(OVERFLOW) <= 0
    ctx.close()


def test_handover_page_fits_desktop_and_phone(browser, live_server, bob, carol, store_a, shot):
    from members.models import Member
    from scrm.models import Role, User
    from wecom.models import Handover, HandoverItem, WecomContact, WecomStaff

    erin = User.objects.create(username="erin", role=Role.STORE_STAFF, store=store_a)
    leaver = WecomStaff.objects.create(userid="carol", name="Carol", user=carol, store=store_a)
    receiver = WecomStaff.objects.create(userid="erin", name="Erin", user=erin, store=store_a)
    handover = Handover.objects.create(kind="on_job", from_staff=leaver, to_staff=receiver, store=store_a)
    for n, status in enumerate(["waiting", "done", "refused", "receiver_full", "limit", "queued"]):
        member = Member.objects.create(name=f"顾客{n}", home_store=store_a, owner=carol)
        contact = WecomContact.objects.create(external_userid=f"wmHandover{n:024d}", member=member)
        HandoverItem.objects.create(handover=handover, contact=contact, status=status)
    for name, context in (("1280", DESKTOP), ("390", PHONE)):
        ctx, page = login(browser, live_server, "bob", **context)
        response = page.goto(f"{live_server.url}{reverse('wecom-handover-detail', args=[handover.pk])}")
        page.wait_for_load_state("networkidle")
        assert response.status == 200
        assert page.get_by_test_id("count-done").is_visible()
        assert page.evaluate(OVERFLOW) <= 0, name
        shot(page, f"wecom-handover-detail-{name}")
        page.goto(f"{live_server.url}{reverse('wecom-handover-create')}")
        assert page.evaluate(OVERFLOW) <= 0, name
        shot(page, f"wecom-handover-form-{name}")
        ctx.close()
