"""The public pages of signed links in a real Chromium at 390 px, without a login, in Chinese and in
English: a member joins a community from their invitation (a second tap says already a member) and
rates an event they attended; neither page scrolls sideways."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from communities.models import CheckIn, CommunityMembership, Event, EventFeedback, Invitation
from communities.services import feedback, invitations
from tests.browsing import OVERFLOW, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_member_joins_from_their_invitation_on_a_phone(locale, browser, live_server, club, bob, members, shot):
    a, _b = members
    invitations.invite(community=club, actor=bob, member_ids=[a[0].pk])
    token = invitations.token_for(Invitation.objects.get().pk)
    ctx = browser.new_context(locale=locale, **PHONE)
    page = ctx.new_page()
    page.goto(f"{live_server.url}/join/{token}/")
    assert page.evaluate(OVERFLOW) <= 0
    assert ("zh-hans" if locale == "zh-CN" else "en") == page.locator("html").get_attribute("lang")
    page.get_by_test_id("join-button").click()
    assert page.get_by_test_id("join-outcome").get_attribute("data-outcome") == "joined"
    assert CommunityMembership.objects.get(member=a[0], left_at__isnull=True).source == "invitation"
    page.goto(f"{live_server.url}/join/{token}/")  # the link again: already a member, no button
    assert page.get_by_test_id("join-outcome").get_attribute("data-outcome") == "already"
    assert page.get_by_test_id("join-button").count() == 0
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, f"communities-join-390-{locale}")
    ctx.close()


def test_a_member_rates_an_event_on_a_phone(browser, live_server, make_event, members, shot):
    a, _b = members
    event = make_event(capacity=3)
    now = timezone.now()
    Event.objects.filter(pk=event.pk).update(starts_at=now - dt.timedelta(hours=3), ends_at=now - dt.timedelta(hours=1),
                                             photos=[{"url": "https://photos.example.com/1.jpg", "caption": "Start"}])
    CheckIn.objects.create(event=event, member=a[0], store=event.store, source="list")
    ctx = browser.new_context(locale="en", **PHONE)
    page = ctx.new_page()
    page.goto(f"{live_server.url}/feedback/{feedback.token_for(event.pk, a[0].pk)}/")
    assert page.evaluate(OVERFLOW) <= 0
    assert page.get_by_test_id("event-photos").inner_text().strip() == "Start"
    page.get_by_test_id("rating-4").check()
    page.locator("textarea[name=comment]").fill("Great pace")
    page.get_by_test_id("feedback-send").click()
    page.get_by_test_id("feedback-saved").wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "communities-feedback-390")
    assert (EventFeedback.objects.get().rating, EventFeedback.objects.get().comment) == (4, "Great pace")
    ctx.close()
