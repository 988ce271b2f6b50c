"""The sending engine: each recipient gets exactly one message or one recorded reason, whatever
crashes between claim and answer, however many ticks run at once, and across campaigns the caps and
quiet hours hold."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns import channels, tasks
from campaigns.channels.base import Channel, Outcome, Result
from campaigns.channels.outbox import OutboxChannel
from campaigns.models import Campaign, CampaignStatus, Delivery, OutboxMessage
from campaigns.queries import counts_by_state
from campaigns.services import sending
from tests.campaigns.conftest import make_members

pytestmark = pytest.mark.django_db


def _states(campaign):
    return counts_by_state([campaign.pk])[campaign.pk]


def _local(hour, minute=0, days=0):
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)


def test_the_tick_task_sends_every_pending_delivery_once_and_finishes(audience, make_campaign, store_a):
    from loyalty.points.models import MemberPoints

    a, b = audience
    MemberPoints.objects.create(member=a[0], balance=120)
    campaign = make_campaign(content="{name}, you have {points} points")
    report = tasks.tick()
    assert report["sent"] == 5
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert _states(campaign)["sent"] == 5
    message = OutboxMessage.objects.get(campaign=campaign, member=a[0])
    assert message.text == f"{a[0].name}, you have 120 points"
    assert message.address == a[0].phone
    delivery = Delivery.objects.get(campaign=campaign, member=a[0])
    assert delivery.provider_message_id == f"outbox:{message.pk}"
    assert delivery.attempts == 1 and delivery.sent_at is not None
    assert tasks.tick()["sent"] == 0  # nothing more
    assert OutboxMessage.objects.filter(campaign=campaign).count() == 5


def test_a_crash_between_claim_and_send_is_sent_once_after_the_lease(audience, make_campaign, policy):
    campaign = make_campaign()
    now = timezone.now()
    claimed, _capped = sending.claim(campaign, limit=100, now=now, pol=policy)  # ... and the worker dies
    assert len(claimed) == 5
    assert _states(campaign)["sending"] == 5
    # Within the lease nothing is touched; the campaign is not done while rows are sending.
    sending.tick()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING and _states(campaign)["sending"] == 5

    report = sending.tick(lease=dt.timedelta(0))
    assert report.settled == 5
    assert _states(campaign)["sent"] == 5
    assert OutboxMessage.objects.filter(campaign=campaign).count() == 5
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {2}


def test_a_crash_after_the_channel_took_it_is_settled_as_sent_not_sent_again(audience, make_campaign, policy):
    campaign = make_campaign()
    claimed, _ = sending.claim(campaign, limit=100, now=timezone.now(), pol=policy)
    ready, _missing = sending._outgoing(campaign, claimed, OutboxChannel())
    OutboxChannel().send(ready)  # the provider has them; the worker dies before writing the answer

    report = sending.tick(lease=dt.timedelta(0))

    assert report.settled == 5 and report.claimed == 0
    assert _states(campaign)["sent"] == 5
    assert OutboxMessage.objects.filter(campaign=campaign).count() == 5
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_send_each_member_exactly_once(store_a, store_b, alice, make_campaign, policy):
    make_members(store_a, 300)
    make_members(store_b, 300)
    first = make_campaign(name="one")
    second = make_campaign(name="two")
    outbox = channels.get("outbox")
    outbox.batch_size = 50  # many small claims, so the two ticks interleave
    reports, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            reports.append(sending.tick(budget=60))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        outbox.batch_size = OutboxChannel.batch_size
    assert not errors
    assert sum(r.sent for r in reports) == 1200
    assert all(r.sent > 0 for r in reports), "both ticks took a share"
    for campaign in (first, second):
        assert _states(campaign)["sent"] == 600
        assert OutboxMessage.objects.filter(campaign=campaign).count() == 600
        assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DONE
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM (SELECT campaign_id, member_id FROM {OutboxMessage._meta.db_table} "
                       "GROUP BY 1, 2 HAVING count(*) > 1) dup")
        assert cursor.fetchone()[0] == 0


def test_caps_hold_across_two_campaigns(audience, make_campaign, policy):
    policy.daily_cap, policy.weekly_cap = 1, 2
    policy.save()
    first = make_campaign(name="first")
    second = make_campaign(name="second")
    sending.tick()
    firsts, seconds = _states(first), _states(second)
    assert firsts["sent"] + seconds["sent"] == 5  # one a day each
    assert firsts["suppressed"] + seconds["suppressed"] == 5
    assert set(Delivery.objects.filter(state="suppressed").values_list("reason", flat=True)) == {"cap_reached"}

    # Tomorrow the weekly cap (2) still leaves one more each; the day after, none.
    third = make_campaign(name="third")
    sending.tick(now_fn=lambda: timezone.now() + dt.timedelta(days=1))
    assert _states(third)["sent"] == 5
    fourth = make_campaign(name="fourth")
    sending.tick(now_fn=lambda: timezone.now() + dt.timedelta(days=2))
    assert _states(fourth)["sent"] == 0 and _states(fourth)["suppressed"] == 5


def test_quiet_hours_defer_to_the_end_of_the_window_and_never_drop(audience, make_campaign, policy):
    policy.quiet_start, policy.quiet_end = dt.time(22, 0), dt.time(8, 0)
    policy.save()
    campaign = make_campaign()
    late = _local(23, 30)
    report = sending.tick(now_fn=lambda: late)
    assert report.deferred == 5 and report.sent == 0
    morning = _local(8, 0, days=1)
    rows = Delivery.objects.filter(campaign=campaign)
    assert {(d.state, d.reason, d.next_attempt_at) for d in rows} == {("pending", "quiet_hours", morning)}
    assert sending.tick(now_fn=lambda: _local(7, 59, days=1)).sent == 0
    assert sending.tick(now_fn=lambda: _local(8, 1, days=1)).sent == 5
    assert set(Delivery.objects.filter(campaign=campaign).values_list("state", "reason")) == {("sent", "")}


class FlakyProvider(Channel):
    """A provider that answers 'try again' a set number of times, then refuses or accepts."""

    code = "flaky"
    label = "flaky"

    def __init__(self, failures, final):
        self.failures, self.final, self.calls = failures, final, 0

    def address_sql(self, member):
        return f"nullif({member}.phone, '')"

    def send(self, batch):
        self.calls += 1
        if self.calls <= self.failures:
            return [Result(o.delivery_id, Outcome.RETRY, error="503 busy") for o in batch]
        return [Result(o.delivery_id, self.final, provider_message_id="p1", error="" if self.final is Outcome.SENT
                       else "400 bad number") for o in batch]


@pytest.fixture
def flaky():
    def install(failures, final):
        provider = FlakyProvider(failures, final)
        channels.register(provider)
        return provider

    yield install
    channels._CHANNELS.pop("flaky", None)


def test_retries_back_off_then_send(audience, make_campaign, flaky, policy):
    flaky(2, Outcome.SENT)
    campaign = make_campaign(channel="flaky")
    now = timezone.now()
    assert sending.tick(now_fn=lambda: now).retried == 5
    delivery = Delivery.objects.filter(campaign=campaign).first()
    assert delivery.state == "pending" and delivery.error == "503 busy"
    assert delivery.next_attempt_at == now + dt.timedelta(seconds=30)
    assert sending.tick(now_fn=lambda: now + dt.timedelta(seconds=10)).claimed == 0  # not yet due
    later = now + dt.timedelta(seconds=31)
    sending.tick(now_fn=lambda: later)
    assert Delivery.objects.filter(campaign=campaign).first().next_attempt_at == later + dt.timedelta(seconds=60)
    assert sending.tick(now_fn=lambda: later + dt.timedelta(seconds=61)).sent == 5
    assert _states(campaign)["sent"] == 5


def test_attempts_are_capped_and_a_refusal_is_final(audience, make_campaign, flaky, policy):
    flaky(99, Outcome.SENT)
    campaign = make_campaign(channel="flaky")
    at = timezone.now()
    for _ in range(4):
        sending.tick(now_fn=lambda at=at: at)
        at += dt.timedelta(hours=2)
    assert set(Delivery.objects.filter(campaign=campaign).values_list("state", "reason", "attempts")) == {
        ("failed", "attempts_exhausted", 3)
    }
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.DONE)

    flaky(0, Outcome.FAILED)
    refused = make_campaign(channel="flaky", name="refused")
    sending.tick(now_fn=lambda: at)
    assert set(Delivery.objects.filter(campaign=refused).values_list("state", "reason", "error")) == {
        ("failed", "provider_error", "400 bad number")
    }
    assert Campaign.objects.get(pk=refused.pk).status == CampaignStatus.DONE


def test_failed_sends_give_their_cap_slot_back(audience, make_campaign, flaky, policy):
    policy.daily_cap = 1
    policy.save()
    flaky(0, Outcome.FAILED)
    make_campaign(channel="flaky", name="refused")
    sending.tick()
    ok = make_campaign(name="ok")
    sending.tick()
    assert _states(ok)["sent"] == 5


def test_a_late_answer_after_the_lease_was_settled_changes_nothing(audience, make_campaign, policy):
    from campaigns.models import MemberSendDay

    policy.daily_cap = 2
    policy.save()
    campaign = make_campaign()
    now = timezone.now()
    slow, _ = sending.claim(campaign, limit=100, now=now, pol=policy)  # a worker that stalls
    sending.tick(lease=dt.timedelta(0))  # its lease is settled: nothing sent yet, sent by this tick
    assert _states(campaign)["sent"] == 5
    assert set(MemberSendDay.objects.values_list("count", flat=True)) == {1}

    # The stalled worker wakes and reports a failure for rows that are no longer its own.
    report = sending.TickReport()
    sending._record([(c, Result(c.id, Outcome.RETRY, error="timeout")) for c in slow], now=timezone.now(),
                    pol=policy, report=report)
    assert report.retried == 0
    assert _states(campaign)["sent"] == 5
    assert set(MemberSendDay.objects.values_list("count", flat=True)) == {1}
