"""The webhook channel against a local receiver (campaigns.fake.webhook) that checks every request's
signature with its own code and keeps one message per Idempotency-Key, through the sending engine:
one message per member whatever times out or crashes; refusals and retries recorded; a channel with
its settings missing refuses campaigns."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
from django.utils import timezone

from campaigns.channels import limits
from campaigns.channels.webhook import WebhookChannel, sign
from campaigns.fake import webhook as fake_webhook
from campaigns.models import Delivery
from campaigns.queries import counts_by_state
from campaigns.services import campaigns as lifecycle
from campaigns.services import sending
from members.models import Member
from scrm.errors import InvalidInput
from tests.campaigns.conftest import consent

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def receiver(settings):
    running = fake_webhook.start(fake_webhook.Receiver(secret=SECRET))
    settings.SIYU_WEBHOOK_URL, settings.SIYU_WEBHOOK_SECRET = running.receiver.url, SECRET
    settings.SIYU_WEBHOOK_TIMEOUT, settings.SIYU_WEBHOOK_RATE = 0.5, 200
    try:
        yield running.receiver
    finally:
        running.stop()


def _states(campaign):
    return {k: v for k, v in counts_by_state([campaign.pk])[campaign.pk].items() if v and k != "total"}


def _later(hours=2):
    return lambda: timezone.now() + dt.timedelta(hours=hours)


def _one_each(receiver, campaign, members):
    assert sorted(m.key for m in receiver.messages) == sorted(f"siyu-{campaign.pk}-{m.pk}" for m in members)
    for member in members:
        (message,) = receiver.by_key(f"siyu-{campaign.pk}-{member.pk}")
        delivery = Delivery.objects.get(campaign=campaign, member=member)
        assert delivery.state == "sent" and delivery.provider_message_id == message.id


def test_every_member_gets_one_signed_message_through_the_engine(audience, make_campaign, receiver):
    a, b = audience
    campaign = make_campaign(channel="webhook", name="spring", content="{name}，春季新品到店")
    assert sending.tick().sent == 5
    _one_each(receiver, campaign, [*a, *b])
    assert receiver.refused == [] and receiver.requests == 5
    (message,) = receiver.by_key(f"siyu-{campaign.pk}-{a[0].pk}")
    delivery = Delivery.objects.get(campaign=campaign, member=a[0])
    assert message.body == {
        "type": "campaign.message", "key": f"siyu-{campaign.pk}-{a[0].pk}",
        "campaign": {"id": campaign.pk, "name": "spring"}, "member": {"id": a[0].pk},
        "delivery": {"id": delivery.id, "send_month": str(delivery.send_month)},
        "address": a[0].phone, "text": f"{a[0].name}，春季新品到店",
    }
    assert message.headers["idempotency-key"] == message.key
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", message.headers["siyu-signature"])
    assert sending.tick(now_fn=_later()).sent == 0 and receiver.requests == 5


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body():
    body = json.dumps({"text": "你好"}, ensure_ascii=False).encode()
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert fake_webhook.signature_ok(SECRET, header, body)
    assert not fake_webhook.signature_ok(SECRET, header, body + b" ")  # the body changed
    assert not fake_webhook.signature_ok("another-secret-0123456", header, body)
    assert not fake_webhook.signature_ok(SECRET, sign(SECRET, body, now - 301), body)  # replayed later
    # During a change of secret the receiver may get two v1 values; any one matching is enough.
    rotated = sign("old-secret-0123456789", body, now) + "," + header.split(",")[1]
    assert fake_webhook.signature_ok(SECRET, rotated, body)


def test_a_wrong_secret_is_refused_by_the_receiver_and_fails(audience, make_campaign, receiver, settings):
    campaign = make_campaign(channel="webhook")
    settings.SIYU_WEBHOOK_SECRET = "not-the-receivers-secret"
    report = sending.tick()
    assert report.failed == 5 and receiver.messages == [] and receiver.refused == ["signature"] * 5
    failed = Delivery.objects.filter(campaign=campaign).first()
    assert (failed.state, failed.reason) == ("failed", "provider_error")
    assert failed.error.startswith("HTTP 400:") and "invalid signature" in failed.error


def test_a_slow_answer_is_retried_under_the_same_key_and_kept_once(audience, make_campaign, receiver):
    a, b = audience
    receiver.slow, receiver.slow_times = 1.5, 1  # stored, answered after the client's 0.5 s timeout
    campaign = make_campaign(channel="webhook")
    report = sending.tick()
    assert report.sent == 4 and report.retried == 1
    retried = Delivery.objects.get(campaign=campaign, state="pending")
    assert retried.error.startswith("ReadTimeout")
    assert sending.tick(now_fn=_later()).sent == 1
    _one_each(receiver, campaign, [*a, *b])
    assert receiver.requests == 6  # the repeat came with the same Idempotency-Key: not kept twice


def test_server_errors_retry_and_other_refusals_fail(audience, make_campaign, receiver):
    a, b = audience
    receiver.fail(404)  # the first request (a[0]'s)
    receiver.fail(503)  # the second (a[1]'s)
    campaign = make_campaign(channel="webhook")
    report = sending.tick()
    assert (report.sent, report.retried, report.failed) == (3, 1, 1)
    assert Delivery.objects.get(campaign=campaign, member=a[0]).error == 'HTTP 404: {"error": "scripted 404"}'
    assert Delivery.objects.get(campaign=campaign, member=a[1]).state == "pending"
    assert sending.tick(now_fn=_later()).sent == 1
    assert _states(campaign) == {"sent": 4, "failed": 1}
    _one_each(receiver, campaign, [a[1], a[2], *b])


def test_a_429_pauses_every_sender(audience, make_campaign, receiver):
    a, b = audience
    receiver.fail(429, retry_after=2)
    campaign = make_campaign(channel="webhook")
    assert sending.tick().retried == 5 and receiver.requests == 1
    started = time.monotonic()
    assert sending.tick(now_fn=_later()).claimed == 0  # within the pause: nothing claimed, no wait
    assert time.monotonic() - started < 1.0 and receiver.requests == 1
    time.sleep(2.1)
    assert sending.tick(now_fn=_later(4)).sent == 5
    _one_each(receiver, campaign, [*a, *b])


def test_a_worker_dying_after_the_receiver_took_them_is_settled_from_the_receipts(audience, make_campaign,
                                                                                 receiver, policy):
    a, b = audience
    campaign = make_campaign(channel="webhook")
    claimed, _ = sending.claim(campaign, limit=100, now=timezone.now(), pol=policy)
    ready, _missing = sending._outgoing(campaign, claimed, WebhookChannel())
    WebhookChannel().send(ready)  # ... and the worker dies before writing the answers
    report = sending.tick(lease=dt.timedelta(0))
    assert report.settled == 5 and report.sent == 5 and report.claimed == 0
    _one_each(receiver, campaign, [*a, *b])
    assert receiver.requests == 5


def test_without_receipts_a_settle_sends_again_under_the_same_key(audience, make_campaign, receiver, policy):
    a, b = audience
    campaign = make_campaign(channel="webhook")
    claimed, _ = sending.claim(campaign, limit=100, now=timezone.now(), pol=policy)
    ready, _missing = sending._outgoing(campaign, claimed, WebhookChannel())
    WebhookChannel().send(ready)
    receipts = limits.Receipts("webhook")
    receipts.redis.delete(*[receipts.base + o.key for o in ready])  # Redis lost them
    report = sending.tick(lease=dt.timedelta(0))
    assert report.settled == 5 and report.sent == 5
    assert receiver.requests == 10  # sent again, and the receiver knew each key
    assert len(receiver.messages) == 5


def test_webhook_consent_is_the_all_channels_one(store_a, make_campaign, receiver):
    sms_only = Member.objects.create(name="s", phone="+8613812340001", home_store=store_a)
    consent(sms_only, channel="sms")
    everything = Member.objects.create(name="e", phone="", home_store=store_a)
    consent(everything)
    campaign = make_campaign(channel="webhook")
    assert dict(Delivery.objects.filter(campaign=campaign).values_list("member_id", "reason")) == {
        sms_only.pk: "no_consent", everything.pk: ""}
    sending.tick()
    (message,) = receiver.messages
    assert message.body["address"] == f"member:{everything.pk}"  # no phone, no identity


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("SIYU_WEBHOOK_URL", "", "Webhooks are not configured: set SIYU_WEBHOOK_URL."),
    ("SIYU_WEBHOOK_SECRET", "", "Webhooks are not configured: set SIYU_WEBHOOK_SECRET."),
    ("SIYU_WEBHOOK_SECRET", "short",
     "Webhooks are not configured: SIYU_WEBHOOK_SECRET must be at least 16 characters."),
])
def test_a_campaign_on_webhooks_without_their_settings_is_refused(alice, everyone, settings, setting, value, message):
    settings.SIYU_WEBHOOK_URL, settings.SIYU_WEBHOOK_SECRET = "https://hooks.example.com/siyu", SECRET
    setattr(settings, setting, value)
    data = lifecycle.CampaignInput(name="x", segment_id=everyone.pk, channel="webhook", content="hi")
    with pytest.raises(InvalidInput) as refused:
        lifecycle.create_campaign(actor=alice, data=data)
    assert refused.value.details["channel"] == [message]
