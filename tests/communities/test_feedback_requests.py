"""Asking attendees for feedback after an event: each member checked in who has not given feedback
gets one marketing notice with their own feedback link, two hours after the end (not before, not
days late), exactly once whatever the number of ticks; a no-show, one who answered, an event that
asks for none are not asked; the link opens the member's feedback page; the event page counts who
was asked and who answered."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from campaigns.services import notices
from communities import hooks, queries, tasks
from communities.models import CheckIn, Event, EventFeedback, FeedbackRequest
from communities.privacy import erase
from communities.services import events as event_services
from communities.services import feedback, feedback_requests, signups
from members.privacy_registry import ErasureSubject
from tests.campaigns.conftest import consent as grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender():
    """The campaigns' sender, as campaigns.plugins registers it (another test may have replaced it)."""
    hooks.register_notice_sender(notices.send_event_notices)
    yield
    hooks.register_notice_sender(notices.send_event_notices)


@pytest.fixture
def ended(make_event, bob, members):
    """An event (capacity 5) that ends at `ended.ends_at`: a[0] and a[1] checked in, a[2] signed up
    and never came."""
    a, _b = members
    event = make_event(title="Night run", capacity=5)
    for m in a:
        signups.sign_up(event=event, member_id=m.pk, actor=bob)
    end = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=30)
    Event.objects.filter(pk=event.pk).update(starts_at=end - dt.timedelta(hours=2), ends_at=end)
    event.refresh_from_db()
    for m in a[:2]:
        CheckIn.objects.create(event=event, member=m, store=event.store, source="list")
    return event


def asked():
    return sorted(FeedbackRequest.objects.values_list("event_id", "member_id"))


def test_attendees_are_asked_once_after_the_delay_with_a_link_to_their_page(ended, members, sender, client,
                                                                          settings):
    settings.SIYU_PUBLIC_URL = "https://siyu.example.com"
    a, _b = members
    for m in a:
        grant(m)
    end = ended.ends_at
    assert feedback_requests.ask_due(now=end + dt.timedelta(hours=1, minutes=55)) == 0  # not yet
    assert feedback_requests.ask_due(now=end + dt.timedelta(hours=2, minutes=1)) == 2
    assert asked() == [(ended.pk, a[0].pk), (ended.pk, a[1].pk)]  # the no-show a[2] is not asked
    later = end + dt.timedelta(hours=2, minutes=6)
    assert feedback_requests.ask_due(now=later) == 0  # a second tick asks no one again
    assert feedback_requests.hand_over(now=later) == 2
    assert feedback_requests.hand_over(now=later) == 0  # handed once
    assert Campaign.objects.count() == 2  # one notice a member: each text has its own link
    assert {d.member_id: d.state for d in Delivery.objects.all()} == {a[0].pk: "pending", a[1].pk: "pending"}
    mine = FeedbackRequest.objects.get(member=a[0])
    campaign = Campaign.objects.get(pk=int(mine.handed_to.split(":")[1]))
    assert campaign.purpose == "marketing" and campaign.expires_at == feedback.closes_at(ended)
    assert "Night run" in campaign.content
    url = re.search(r"https://siyu\.example\.com(/feedback/[^/\s]+/)", campaign.content).group(1)
    token = urlparse(url).path.split("/")[2]
    assert feedback.read_token(token) == (ended.pk, a[0].pk)
    page = client.get(url)
    assert page.status_code == 200 and "Night run" in page.content.decode()
    client.post(url, {"rating": "5", "comment": "Lovely"})
    assert EventFeedback.objects.get(event=ended, member=a[0]).rating == 5
    assert queries.feedback_asked(ended.pk) == {"asked": 2, "answered": 1}
    assert feedback_requests.ask_due(now=end + dt.timedelta(hours=5)) == 0
    assert Campaign.objects.count() == 2


def test_who_already_answered_or_an_event_asking_none_is_not_asked(ended, make_event, bob, members, sender):
    a, _b = members
    feedback.give(event=ended, member_id=a[0].pk, rating=4, actor=bob)  # entered by staff at the door
    quiet = make_event(title="Quiet ride", capacity=5, ask_feedback=False)
    cancelled = make_event(title="Rained off", capacity=5)
    event_services.cancel_event(event=cancelled, actor=bob)
    for other in (quiet, cancelled):
        Event.objects.filter(pk=other.pk).update(starts_at=ended.starts_at, ends_at=ended.ends_at)
        CheckIn.objects.create(event=other, member=a[2], store=other.store, source="list")
    assert feedback_requests.ask_due(now=ended.ends_at + dt.timedelta(hours=3)) == 1
    assert asked() == [(ended.pk, a[1].pk)]


def test_not_asked_days_late_and_an_answer_before_the_hand_over_is_not_sent(ended, bob, members, sender):
    a, _b = members
    assert feedback_requests.ask_due(now=ended.ends_at + dt.timedelta(days=3)) == 0  # the window passed
    at = ended.ends_at + dt.timedelta(hours=2, minutes=30)
    assert feedback_requests.ask_due(now=at) == 2
    feedback.give(event=ended, member_id=a[1].pk, rating=3, actor=bob)
    assert feedback_requests.hand_over(now=at) == 2
    assert dict(FeedbackRequest.objects.values_list("member_id", "handed_to"))[a[1].pk] == "answered"
    assert Campaign.objects.count() == 1
    assert Delivery.objects.get().state == "suppressed"  # marketing: a[0] never gave consent
    assert queries.feedback_asked(ended.pk) == {"asked": 1, "answered": 0}


def test_the_reminders_tick_asks_and_hands_over(ended, members, sender, client, bob):
    a, _b = members
    now = timezone.now()
    Event.objects.filter(pk=ended.pk).update(starts_at=now - dt.timedelta(hours=5), ends_at=now - dt.timedelta(hours=3))
    tasks.send_reminders.apply()
    tasks.send_reminders.apply()
    assert asked() == [(ended.pk, a[0].pk), (ended.pk, a[1].pk)]
    assert not FeedbackRequest.objects.filter(handed_at__isnull=True).exists()
    client.force_login(bob)
    page = client.get(f"/events/{ended.pk}/").content.decode()
    assert re.search(r'data-testid="feedback-asked">Asked for feedback: 2 · answered: 0<', page)


def test_erasure_drops_a_request_not_yet_sent(ended, members):
    a, _b = members
    feedback_requests.ask_due(now=ended.ends_at + dt.timedelta(hours=3))
    done = erase(ErasureSubject(member_ids=[a[0].pk]))
    assert done["feedback_requests_dropped"] == 1 and asked() == [(ended.pk, a[1].pk)]


def test_the_organiser_turns_it_off_through_the_api(club, bob):
    from tests.communities.test_api import _event_body, client_for

    manager = client_for(bob)
    made = manager.post("/api/v1/events/", _event_body(club, ask_feedback=False), format="json")
    assert made.status_code == 201 and made.json()["ask_feedback"] is False
    eid = made.json()["id"]
    assert manager.patch(f"/api/v1/events/{eid}/", {"ask_feedback": "yes"}, format="json").status_code == 400
    assert manager.patch(f"/api/v1/events/{eid}/", {"ask_feedback": True}, format="json").json()["ask_feedback"]
    assert manager.post("/api/v1/events/", _event_body(club), format="json").json()["ask_feedback"] is True
