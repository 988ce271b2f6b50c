"""The SMS channel against a local provider speaking its protocol (campaigns.fake.sms) over real
HTTP, through the sending engine: one SMS per member whatever times out, crashes or is refused;
refusals and retries recorded with their reasons; the rate shared by every sender; a channel with
its settings missing refuses campaigns."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time

import pytest
from django.utils import timezone

from campaigns.channels import limits, sms
from campaigns.channels.base import Outcome, Outgoing
from campaigns.channels.sms import SmsChannel, segments
from campaigns.fake import sms as fake_sms
from campaigns.models import Delivery, DeliveryState
from campaigns.queries import counts_by_state
from campaigns.services import campaigns as lifecycle
from campaigns.services import sending
from members.models import Identity, Member
from scrm.errors import InvalidInput
from tests.campaigns.conftest import consent

pytestmark = pytest.mark.django_db

KEY = "test-sms-key-0123456789"


@pytest.fixture
def provider(settings):
    running = fake_sms.start(fake_sms.Provider(key=KEY))
    settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY = running.url, KEY
    settings.SIYU_SMS_TIMEOUT, settings.SIYU_SMS_RATE = 0.5, 200
    try:
        yield running.provider
    finally:
        running.stop()


def _states(campaign):
    return {k: v for k, v in counts_by_state([campaign.pk])[campaign.pk].items() if v and k != "total"}


def _later(hours=2):
    return lambda: timezone.now() + dt.timedelta(hours=hours)


def _one_each(provider, campaign, members):
    """Exactly one SMS per member at the provider, under the delivery's key, and its id recorded."""
    assert sorted(m.to for m in provider.messages) == sorted(m.phone for m in members)
    for member in members:
        (message,) = provider.sent_to(member.phone)
        assert message.client_ref == f"siyu-{campaign.pk}-{member.pk}"
        delivery = Delivery.objects.get(campaign=campaign, member=member)
        assert delivery.state == DeliveryState.SENT and delivery.provider_message_id == message.id


def test_every_member_gets_one_sms_through_the_engine(audience, make_campaign, provider):
    a, b = audience
    campaign = make_campaign(channel="sms", content="{name}，春季新品到店")
    report = sending.tick()
    assert report.sent == 5
    _one_each(provider, campaign, [*a, *b])
    assert provider.sent_to(a[0].phone)[0].text == f"{a[0].name}，春季新品到店"
    assert sending.tick(now_fn=_later()).sent == 0
    assert provider.posts == 5
    campaign.refresh_from_db()
    assert campaign.status == "done"


def test_an_answer_that_comes_too_late_is_looked_up_not_sent_twice(audience, make_campaign, provider):
    a, b = audience
    provider.slow, provider.slow_times = 1.5, 2  # taken, answered after the client's 0.5 s timeout
    campaign = make_campaign(channel="sms")
    report = sending.tick()
    assert report.sent == 5 and report.retried == 0
    _one_each(provider, campaign, [*a, *b])
    assert provider.posts == 5


def test_a_provider_that_is_down_is_retried_and_sends_once_when_back(audience, make_campaign, provider, settings,
                                                                       monkeypatch):
    a, b = audience
    monkeypatch.setattr(sms, "OUTAGE_PAUSE", 1.0)
    campaign = make_campaign(channel="sms")
    with socket.socket() as closed:  # a port nothing listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        settings.SIYU_SMS_URL = f"http://127.0.0.1:{closed.getsockname()[1]}"
    report = sending.tick()
    assert report.retried == 5
    errors = list(Delivery.objects.filter(campaign=campaign).order_by("id").values_list("error", flat=True))
    assert all(e.startswith("ConnectError") for e in errors[:3])  # three in a row: the rest wait
    assert errors[3:] == ["not attempted: the provider failed the sends before"] * 2
    settings.SIYU_SMS_URL = provider.url
    # Every sender holds off for the pause: nothing is claimed, so no attempt is spent on it.
    assert sending.tick(now_fn=_later()).claimed == 0
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}
    time.sleep(1.1)
    assert sending.tick(now_fn=_later()).sent == 5
    _one_each(provider, campaign, [*a, *b])


def test_a_worker_dying_after_the_provider_took_them_is_settled_by_asking_it(audience, make_campaign, provider,
                                                                            policy):
    a, b = audience
    campaign = make_campaign(channel="sms")
    claimed, _ = sending.claim(campaign, limit=100, now=timezone.now(), pol=policy)
    ready, _missing = sending._outgoing(campaign, claimed, SmsChannel())
    assert all(r.outcome is Outcome.SENT for r in SmsChannel().send(ready))  # ... and the worker dies
    report = sending.tick(lease=dt.timedelta(0))
    assert report.settled == 5 and report.claimed == 0
    _one_each(provider, campaign, [*a, *b])
    assert provider.posts == 5
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}


def test_a_worker_dying_before_it_sent_them_is_sent_once_after_the_lease(audience, make_campaign, provider, policy):
    a, b = audience
    campaign = make_campaign(channel="sms")
    sending.claim(campaign, limit=100, now=timezone.now(), pol=policy)  # ... and the worker dies
    report = sending.tick(lease=dt.timedelta(0))
    assert report.settled == 5 and report.sent == 5  # not found at the provider: due again at once
    _one_each(provider, campaign, [*a, *b])


def test_refusals_fail_with_the_providers_code_and_server_errors_are_retried(audience, make_campaign, provider):
    a, b = audience
    provider.refuse = {b[1].phone: "blocked_recipient"}
    provider.fail(503, code="maintenance")  # the first send (a[0]'s)
    campaign = make_campaign(channel="sms")
    report = sending.tick()
    assert report.failed == 1 and report.retried == 1 and report.sent == 3
    refused = Delivery.objects.get(campaign=campaign, member=b[1])
    assert (refused.state, refused.reason) == ("failed", "provider_error")
    assert refused.error.startswith("HTTP 422 blocked_recipient")
    retried = Delivery.objects.get(campaign=campaign, state="pending")
    assert retried.member_id == a[0].pk
    assert retried.error.startswith("HTTP 503 maintenance") and retried.next_attempt_at > timezone.now()

    assert sending.tick(now_fn=_later()).sent == 1
    assert _states(campaign) == {"sent": 4, "failed": 1}
    _one_each(provider, campaign, [*a, b[0]])


def test_a_429_pauses_every_sender_for_its_retry_after_without_sleeping(audience, make_campaign, provider):
    a, b = audience
    provider.fail(429, code="rate_limited", retry_after=2)
    campaign = make_campaign(channel="sms")
    report = sending.tick()
    assert report.retried == 5 and provider.posts == 1  # the rest of the batch is not even tried
    errors = sorted(Delivery.objects.filter(campaign=campaign).values_list("error", flat=True))
    assert errors[0].startswith("HTTP 429") and all("wait 2 s" in e for e in errors[1:])

    # Another worker within the pause claims nothing (no attempt spent) and does not wait for it.
    started = time.monotonic()
    report = sending.tick(now_fn=_later())
    assert time.monotonic() - started < 1.0
    assert report.claimed == 0 and provider.posts == 1
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}
    time.sleep(2.1)
    assert sending.tick(now_fn=_later(4)).sent == 5
    _one_each(provider, campaign, [*a, *b])


def test_a_wrong_key_is_retried_and_stops_the_batch(audience, make_campaign, provider, settings):
    campaign = make_campaign(channel="sms")
    settings.SIYU_SMS_KEY = "not-the-key"
    report = sending.tick()
    assert report.retried == 5 and provider.posts == 0  # refused at the door: no POST counted
    assert Delivery.objects.filter(campaign=campaign, error__startswith="HTTP 401").count() == 1
    assert sending.tick(now_fn=_later()).claimed == 0  # every sender holds off a while


def test_the_rate_is_shared_by_concurrent_senders(provider, settings):
    settings.SIYU_SMS_RATE = 5
    provider.per_second = 8  # the provider's own limit, with room for a loaded machine's jitter: past it, 429
    answers, errors = [], []

    def send(worker):
        try:
            batch = [Outgoing(dt.date(2026, 1, 1), worker * 100 + i, 999, worker * 100 + i,
                              f"+8613700000{worker}{i:02d}", "hi") for i in range(6)]
            answers.extend(SmsChannel().send(batch))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=send, args=(w,)) for w in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    assert not errors
    sent = [a for a in answers if a.outcome is Outcome.SENT]
    # A sender waits a bounded while for the shared budget; on a loaded machine the other sender may
    # take the tokens it waited for, and then it answers retry (sent later) rather than exceed the rate.
    assert len(answers) == 12
    assert all(a.outcome is Outcome.RETRY and a.error.startswith("rate limit") for a in answers if a not in sent)
    assert len(sent) >= 6
    assert len(provider.messages) == len(sent) and provider.posts == len(sent)  # never a 429
    assert elapsed >= (len(sent) - 1) / 5 - 0.2  # at 5 a second, one saved up


def test_out_of_budget_answers_retry_at_once(provider):
    limits.Bucket("sms", rate=5).pause(30)
    batch = [Outgoing(dt.date(2026, 1, 1), 1, 999, 1, "+8613700000001", "hi")]
    started = time.monotonic()
    (result,) = SmsChannel().send(batch)
    assert time.monotonic() - started < 0.5
    assert result.outcome is Outcome.RETRY and result.error.startswith("rate limit")
    assert provider.posts == 0


def test_the_address_is_an_e164_phone_else_none(store_a, make_campaign, provider):
    with_phone = Member.objects.create(name="p", phone="+8613812345678", home_store=store_a)
    malformed = Member.objects.create(name="bad", phone="13812345678", home_store=store_a)
    identity_only = Member.objects.create(name="id", phone="", home_store=store_a)
    Identity.objects.create(member=identity_only, channel="phone", external_id="+8613912345678")
    nothing = Member.objects.create(name="none", phone="", home_store=store_a)
    for member in (with_phone, malformed, identity_only, nothing):
        consent(member, channel="sms")
    campaign = make_campaign(channel="sms")
    assert dict(Delivery.objects.filter(campaign=campaign).values_list("member_id", "reason")) == {
        with_phone.pk: "", malformed.pk: "no_identity", identity_only.pk: "", nothing.pk: "no_identity"}
    sending.tick()
    assert sorted(m.to for m in provider.messages) == ["+8613812345678", "+8613912345678"]


def test_sms_consent_is_for_sms(store_a, make_campaign, provider):
    email_only = Member.objects.create(name="e", phone="+8613812340001", home_store=store_a)
    consent(email_only, channel="email")
    sms = Member.objects.create(name="s", phone="+8613812340002", home_store=store_a)
    consent(sms, channel="sms")
    campaign = make_campaign(channel="sms")
    assert dict(Delivery.objects.filter(campaign=campaign).values_list("member_id", "reason")) == {
        email_only.pk: "no_consent", sms.pk: ""}


def test_segments_count_ucs2_and_gsm_text():
    assert segments("你" * 70) == 1 and segments("你" * 71) == 2 and segments("你" * 335) == 5
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2
    assert segments("€" * 80) == 1 and segments("€" * 81) == 2  # two septets each
    assert segments("😀" * 35) == 1 and segments("😀" * 36) == 2  # two UTF-16 units each


def test_a_text_past_five_segments_is_refused_when_the_campaign_is_made(alice, everyone, provider):
    data = lifecycle.CampaignInput(name="long", segment_id=everyone.pk, channel="sms", content="新" * 336)
    with pytest.raises(InvalidInput) as refused:
        lifecycle.create_campaign(actor=alice, data=data)
    assert "6 SMS segments; at most 5" in str(refused.value.details["content"][0])


def test_a_rendered_text_past_the_limit_fails_that_delivery(store_a, make_campaign, provider):
    long_name = Member.objects.create(name="长" * 64, phone="+8613812340003", home_store=store_a)
    short_name = Member.objects.create(name="短", phone="+8613812340004", home_store=store_a)
    for member in (long_name, short_name):
        consent(member)
    campaign = make_campaign(channel="sms", content="{name}" + "字" * 290)
    sending.tick()
    failed = Delivery.objects.get(campaign=campaign, member=long_name)
    assert failed.state == "failed" and "SMS segments" in failed.error
    assert [m.to for m in provider.messages] == [short_name.phone]


@pytest.mark.parametrize("missing", ["SIYU_SMS_URL", "SIYU_SMS_KEY"])
def test_a_campaign_on_sms_without_its_settings_is_refused_naming_them(alice, everyone, settings, missing):
    settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY = "https://sms.example.com/v1", KEY
    setattr(settings, missing, "")
    data = lifecycle.CampaignInput(name="x", segment_id=everyone.pk, channel="sms", content="hi")
    with pytest.raises(InvalidInput) as refused:
        lifecycle.create_campaign(actor=alice, data=data)
    assert refused.value.details["channel"] == [f"SMS is not configured: set {missing}."]


def test_production_needs_https(settings):
    settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY, settings.PRODUCTION = "http://sms.example.com", KEY, True
    assert "https://" in SmsChannel().unavailable()
    settings.SIYU_SMS_URL = "https://sms.example.com"
    assert SmsChannel().unavailable() is None
