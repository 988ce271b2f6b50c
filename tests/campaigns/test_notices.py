"""Event notices through the campaigns' engine: a hand-over's batch becomes one campaign of exactly
its members (the fan-out's reasons for those it may not message), a retry makes nothing new, and
the sending tick turns the rest into outbox messages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, Delivery, OutboxMessage
from campaigns.services import notices, sending
from communities import hooks
from communities.models import EventReminder
from communities.services import reminders, signups
from tests.campaigns.conftest import consent
from tests.communities.conftest import club, make_event  # noqa: F401, F811

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sender():
    """The campaigns' sender as campaigns.plugins registers it (another test may have replaced it)."""
    hooks.register_notice_sender(notices.send_event_notices)
    yield
    hooks.register_notice_sender(notices.send_event_notices)


def _batch(members, *, store_id, notice_ids=(1, 2, 3), text="Reminder: Night run is tomorrow"):
    return hooks.NoticeBatch(event_id=7, store_id=store_id, kind="day_before", name="Night run · a day before",
                             text=text, member_ids=tuple(m.pk for m in members), notice_ids=tuple(notice_ids),
                             now=timezone.now())


def _deliveries(campaign):
    return {d.member_id: (d.state, d.reason) for d in Delivery.objects.filter(campaign=campaign)}


def test_a_batch_makes_deliveries_for_exactly_its_members(audience, policy, store_a, alice):
    from members.services import consent as consents

    a, b = audience
    consents.set_consent(member=a[1], purpose="marketing", channel="all", granted=False, actor=alice)
    ref = notices.send_event_notices(_batch([a[0], a[1], b[0]], store_id=store_a.pk))
    campaign = Campaign.objects.get()
    assert ref == f"campaign:{campaign.pk}"
    assert (campaign.status, campaign.channel, campaign.store_id, campaign.segment_id) == (
        CampaignStatus.SENDING, "outbox", store_a.pk, None)
    assert campaign.created_by_label.startswith("notice:event:7:day_before:")
    # Never wider than the batch: a[2] and b[1] have consent but were not in it.
    assert _deliveries(campaign) == {
        a[0].pk: ("pending", ""),
        a[1].pk: ("suppressed", "opted_out"),
        b[0].pk: ("pending", ""),  # of another store, but signed up at this store's event: told too
    }


def test_a_retry_of_the_same_notices_makes_nothing_new(audience, policy, store_a):
    a, _b = audience
    first = notices.send_event_notices(_batch(a, store_id=store_a.pk))
    again = notices.send_event_notices(_batch(a, store_id=store_a.pk))
    assert first == again
    assert Campaign.objects.count() == 1 and Delivery.objects.count() == 3
    other = notices.send_event_notices(_batch(a[:1], store_id=store_a.pk, notice_ids=(4,)))
    assert other != first and Campaign.objects.count() == 2


def test_an_empty_batch_makes_nothing(policy, store_a):
    assert notices.send_event_notices(_batch([], store_id=store_a.pk, notice_ids=())) == ""
    assert not Campaign.objects.exists() and not Delivery.objects.exists()


def test_braces_in_the_text_are_sent_as_written(audience, policy, store_a):
    a, _b = audience
    notices.send_event_notices(_batch(a[:1], store_id=store_a.pk, text="Reminder: {Night} run {name}"))
    sending.tick()
    assert OutboxMessage.objects.get().text == "Reminder: {Night} run {name}"


def test_an_unavailable_notice_channel_falls_back_to_the_outbox(settings):
    settings.SIYU_NOTICE_CHANNEL = "sms"  # SMS without its settings refuses campaigns
    settings.SIYU_SMS_URL = ""
    assert notices.channel_code() == "outbox"
    settings.SIYU_NOTICE_CHANNEL = "nope"
    assert notices.channel_code() == "outbox"


def test_an_event_reminder_ends_as_one_outbox_message(make_event, bob, members, policy):  # noqa: F811
    a, _b = members
    for member in a:
        consent(member)
    consent(a[2], granted=False, channel="all")  # withdrew everything: not even reminded
    now = timezone.now()
    event = make_event(title="Night run", place="Riverside", starts_at=now + dt.timedelta(hours=30), capacity=3)
    for member in a:
        signups.sign_up(event=event, member_id=member.pk, actor=bob)
    later = now + dt.timedelta(hours=7)
    assert reminders.remind_due(now=later) == 2
    assert reminders.hand_over(now=later) == 2
    assert reminders.hand_over(now=later) == 0  # handed once
    campaign = Campaign.objects.get()
    assert set(EventReminder.objects.values_list("handed_to", flat=True)) == {f"campaign:{campaign.pk}"}
    assert campaign.store_id == event.store_id
    report = sending.tick(now_fn=lambda: later)
    assert report.sent == 2
    messages = {m.member_id: m.text for m in OutboxMessage.objects.filter(campaign=campaign)}
    assert set(messages) == {a[0].pk, a[1].pk}
    assert all("Night run is tomorrow" in text and "Riverside" in text for text in messages.values())
    assert sending.tick(now_fn=lambda: later).sent == 0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
