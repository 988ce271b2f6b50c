"""The sending engine writes delivery.state_changed in the statement that writes each batch back:
sent, failed and suppressed (caps, consent withdrawn since the fan-out, cancelled), one event per
delivery, none for a retry (pending again) or for claiming (sending)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns import channels
from campaigns.channels.base import Channel, Outcome, Result
from campaigns.models import Delivery
from campaigns.services import sending
from scrm.models import Event
from tests.campaigns.conftest import consent

pytestmark = pytest.mark.django_db


def changes():
    return [(e.member_id, e.store_id, e.data) for e in Event.objects.filter(type="delivery.state_changed")
            .order_by("id")]


class Answering(Channel):
    """A provider that says 'try again' `failures` times, then gives its final answer."""

    code = "answering"
    label = "answering"

    def __init__(self, failures, final):
        self.failures, self.final, self.calls = failures, final, 0

    def address_sql(self, member):
        return f"nullif({member}.phone, '')"

    def send(self, batch):
        self.calls += 1
        outcome = Outcome.RETRY if self.calls <= self.failures else self.final
        return [Result(o.delivery_id, outcome, provider_message_id="p1",
                       error="" if outcome is Outcome.SENT else "no") for o in batch]


@pytest.fixture
def answering():
    def install(failures, final):
        channels.register(Answering(failures, final))

    yield install
    channels._CHANNELS.pop("answering", None)


def test_each_sent_delivery_is_one_event_with_the_members_store(audience, make_campaign):
    a, b = audience
    campaign = make_campaign()
    assert sending.tick().sent == 5
    found = changes()
    deliveries = {d.member_id: d.id for d in Delivery.objects.filter(campaign=campaign)}
    assert sorted(found, key=lambda row: row[0]) == sorted(
        [(m.pk, m.home_store_id, {"campaign": {"id": campaign.pk}, "delivery": {"id": deliveries[m.pk]},
                                  "channel": "outbox", "state": "sent", "reason": ""}) for m in (*a, *b)],
        key=lambda row: row[0])
    sending.tick()
    assert len(changes()) == 5


def test_a_retry_is_no_event_and_the_final_failure_is_one(audience, make_campaign, answering, policy):
    answering(1, Outcome.FAILED)
    make_campaign(channel="answering")
    now = timezone.now()
    assert sending.tick(now_fn=lambda: now).retried == 5
    assert changes() == []
    sending.tick(now_fn=lambda: now + dt.timedelta(minutes=1))
    assert {(d["state"], d["reason"]) for _m, _s, d in changes()} == {("failed", "provider_error")}
    assert len(changes()) == 5


def test_suppressions_at_claim_time_are_events_with_their_reason(audience, make_campaign, policy):
    a, _b = audience
    policy.daily_cap = 1
    policy.save()
    make_campaign(name="first")
    sending.tick()
    Event.objects.all().delete()
    make_campaign(name="second")
    consent(a[0], granted=False)  # after the fan-out: the claim suppresses it
    sending.tick()
    reasons = sorted((m, d["state"], d["reason"]) for m, _s, d in changes())
    assert len(reasons) == 5 and {state for _m, state, _r in reasons} == {"suppressed"}
    assert {m: r for m, _state, r in reasons}[a[0].pk] != "cap_reached"
    assert {r for m, _state, r in reasons if m != a[0].pk} == {"cap_reached"}


def test_cancelled_pending_rows_swept_are_events(audience, make_campaign):
    from campaigns.models import Campaign, CampaignStatus

    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED, finished_at=timezone.now())
    assert sending.sweep_cancelled(now=timezone.now()) == 5
    assert {(d["state"], d["reason"]) for _m, _s, d in changes()} == {("suppressed", "cancelled")}
    assert sending.sweep_cancelled(now=timezone.now()) == 0
    assert len(changes()) == 5


def test_suppressing_a_cancelled_campaigns_pending_rows_is_one_event_each(audience, make_campaign):
    campaign = make_campaign()
    assert sending.suppress_cancelled(campaign=campaign, now=timezone.now()) == 5
    assert sending.suppress_cancelled(campaign=campaign, now=timezone.now()) == 0
    assert {(d["campaign"]["id"], d["state"], d["reason"]) for _m, _s, d in changes()} == {
        (campaign.pk, "suppressed", "cancelled")}
    assert len(changes()) == 5
