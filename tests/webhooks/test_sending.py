"""The sender against a real local receiver (webhooks.receiver): signed envelopes, retries with the
same id and body, backoff, the retry window, 410 and other refusals, 429's Retry-After, the order per
member, pausing and resuming."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import time

import pytest
from django.core import mail
from django.utils import timezone

from scrm import events
from scrm.models import AuditLog, Event
from tests.webhooks.conftest import SECRET, TOUCHED
from webhooks import receiver as kit
from webhooks.models import Delivery, Subscription
from webhooks.services import relay, sending


@pytest.fixture(autouse=True)
def _quick(settings):
    settings.SIYU_WEBHOOK_RETRY_BASE = 30
    settings.SIYU_WEBHOOK_TIMEOUT = 2


def _emit(*members, store=None, data=None) -> list[int]:
    before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    events.emit_many(TOUCHED, [(m, store, data or {"m": m}) for m in members])
    relay.relay()
    return list(Event.objects.filter(id__gt=before).order_by("id").values_list("id", flat=True))


def _delivery(event_id: int) -> Delivery:
    return Delivery.objects.get(event_id=event_id)


def _make_due(*event_ids: int) -> None:
    Delivery.objects.filter(event_id__in=event_ids).update(next_attempt_at=timezone.now())


def test_a_delivery_is_the_signed_envelope_with_its_headers(subscribe, receiver, store_a):
    sub = subscribe(receiver.url("/a"))
    [event_id] = _emit(5, store=store_a.pk, data={"tag": {"id": 3, "name": "VIP", "group": "level"}})
    event = Event.objects.get(pk=event_id)

    done = sending.send_due()

    assert (done.claimed, done.delivered) == (1, 1)
    [got] = receiver.receiver.requests
    raw = receiver.receiver.bodies[("/a", event_id)]
    assert json.loads(raw) == {
        "id": event_id, "type": TOUCHED, "occurred_at": event.occurred_at.astimezone(dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"), "member": {"id": 5}, "store": {"id": store_a.pk},
        "data": {"tag": {"id": 3, "name": "VIP", "group": "level"}},
    }
    assert raw == sending.envelope_of(event)
    assert (got.attempt, got.status, receiver.receiver.refused) == (1, 200, 0)
    row = _delivery(event_id)
    assert (row.state, row.attempts, row.last_status, row.leased_until) == ("delivered", 1, 200, None)
    assert row.delivered_at is not None and row.latency_ms is not None and row.latency_ms >= 0
    sub.refresh_from_db()
    assert sub.failing_since is None


def test_headers_and_the_receiver_kits_verify(subscribe, store_a):
    seen = []

    class Recording(kit.Receiver):
        def take(self, path, headers, raw):
            seen.append((dict(headers.items()), raw))
            return super().take(path, headers, raw)

    running = kit.start(Recording(secrets=(SECRET,)))
    try:
        subscribe(running.url("/h"))
        [event_id] = _emit(None)
        sending.send_due()
    finally:
        running.stop()
    [(headers, raw)] = seen
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "siyu-webhook"
    assert headers["Siyu-Event-Id"] == str(event_id)
    assert headers["Siyu-Event-Type"] == TOUCHED
    assert headers["Siyu-Delivery-Attempt"] == "1"
    assert headers["Idempotency-Key"] == f"siyu-event-{event_id}"
    assert json.loads(raw)["member"] is None and json.loads(raw)["store"] is None
    assert kit.verify(SECRET, headers, raw)
    assert kit.verify(SECRET, {k.lower(): v for k, v in headers.items()}, raw)  # names in any case
    assert not kit.verify("whsec_another", headers, raw)
    assert not kit.verify(SECRET, headers, raw + b" ")
    assert not kit.verify(SECRET, headers, raw, now=time.time() + 301)  # an old request replayed
    assert kit.verify(SECRET, headers, raw, tolerance=600, now=time.time() + 301)
    assert not kit.verify(SECRET, {}, raw)


def test_during_a_rotation_both_secrets_sign(subscribe, store_a):
    old_only = kit.start(kit.Receiver(secrets=("whsec_the_previous_one_0000000000",)))
    try:
        subscribe(old_only.url("/r"), previous_secret="whsec_the_previous_one_0000000000",
                  previous_secret_until=timezone.now() + dt.timedelta(hours=1))
        [first] = _emit(1)
        sending.send_due()
        assert _delivery(first).state == "delivered"
        Subscription.objects.update(previous_secret_until=timezone.now() - dt.timedelta(seconds=1))
        [second] = _emit(2)
        sending.send_due()
    finally:
        old_only.stop()
    row = _delivery(second)  # signed with the new secret only: refused
    assert (row.state, row.last_status) == ("parked", 400)
    assert old_only.receiver.refused == 1


def test_a_retry_keeps_the_event_id_and_the_body_and_backs_off(subscribe, receiver, store_a):
    subscribe(receiver.url("/b"))
    [event_id] = _emit(7, store=store_a.pk)
    receiver.receiver.fail_event(event_id, 503, times=2)

    before = timezone.now()
    assert sending.send_due().retried == 1
    row = _delivery(event_id)
    assert (row.state, row.attempts, row.last_status, row.leased_until) == ("pending", 1, 503, None)
    assert "HTTP 503" in row.last_error
    assert dt.timedelta(seconds=29) < row.next_attempt_at - before < dt.timedelta(seconds=32)
    assert sending.send_due().claimed == 0  # not due yet

    _make_due(event_id)
    before = timezone.now()
    sending.send_due()
    row = _delivery(event_id)
    assert row.attempts == 2 and dt.timedelta(seconds=59) < row.next_attempt_at - before < dt.timedelta(seconds=62)

    _make_due(event_id)
    assert sending.send_due().delivered == 1
    got = receiver.receiver.requests
    assert [r.attempt for r in got] == [1, 2, 3] and [r.status for r in got] == [503, 503, 200]
    assert len({r.sha256 for r in got}) == 1
    assert got[0].sha256 == hashlib.sha256(sending.envelope_of(Event.objects.get(pk=event_id))).hexdigest()
    assert sending.backoff(20) == dt.timedelta(hours=1)


def test_past_the_retry_window_a_failing_delivery_is_parked_with_its_last_answer(subscribe, receiver, store_a):
    subscribe(receiver.url("/w"))
    [event_id] = _emit(8)
    Delivery.objects.update(created_at=timezone.now() - dt.timedelta(hours=24, minutes=1))
    receiver.receiver.fail_event(event_id, 502)

    assert sending.send_due().parked == 1

    row = _delivery(event_id)
    assert (row.state, row.last_status) == ("parked", 502)
    assert row.last_error.startswith("HTTP 502")


def test_no_answer_is_retried_too(subscribe, store_a):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subscribe(f"http://127.0.0.1:{port}/down")
    [event_id] = _emit(9)

    assert sending.send_due().retried == 1

    row = _delivery(event_id)
    assert (row.state, row.last_status) == ("pending", None)
    assert row.last_error.startswith("ConnectError")


def test_a_receiver_slower_than_the_timeout_is_retried(subscribe, receiver, store_a, settings):
    settings.SIYU_WEBHOOK_TIMEOUT = 1
    subscribe(receiver.url("/slow"))
    [event_id] = _emit(10)
    receiver.receiver.slow = 1.5

    assert sending.send_due().retried == 1

    row = _delivery(event_id)
    assert row.state == "pending" and row.last_error.startswith("ReadTimeout")


def test_410_gone_parks_the_delivery_and_pauses_the_subscription(subscribe, receiver, store_a,
                                                                   django_capture_on_commit_callbacks):
    sub = subscribe(receiver.url("/gone"))
    first, second = _emit(11, 12)
    receiver.receiver.fail_event(first, 410)
    receiver.receiver.fail_event(second, 410)

    with django_capture_on_commit_callbacks(execute=True):
        done = sending.send_due(batch=1)

    assert done.paused == [sub.pk]
    sub.refresh_from_db()
    assert (sub.state, sub.paused_reason) == ("paused", "the receiver answered 410 Gone")
    assert sub.paused_at is not None
    assert (_delivery(first).state, _delivery(first).last_status) == ("parked", 410)
    assert _delivery(second).state == "pending"  # waits while paused, not parked
    assert sending.send_due().claimed == 0
    assert AuditLog.objects.filter(action="webhooks.subscription_paused", object_id=str(sub.pk)).count() == 1


def test_any_other_refusal_parks_at_once_with_the_start_of_the_answer(subscribe, receiver, store_a):
    subscribe(receiver.url("/no"))
    refused, redirected = _emit(13, 14)
    receiver.receiver.fail_event(refused, 422)
    receiver.receiver.fail_event(redirected, 302)

    done = sending.send_due()

    assert (done.parked, done.retried) == (2, 0)
    row = _delivery(refused)
    assert (row.state, row.attempts, row.last_status) == ("parked", 1, 422)
    assert row.last_error == 'HTTP 422: {"error": "told to answer 422"}'
    assert (_delivery(redirected).state, _delivery(redirected).last_status) == ("parked", 302)  # not followed


def test_429_waits_for_its_retry_after_and_holds_the_subscription(subscribe, receiver, store_a):
    subscribe(receiver.url("/busy"))
    [first] = _emit(15)
    receiver.receiver.fail_event(first, 429, retry_after=7)

    before = timezone.now()
    sending.send_due()

    row = _delivery(first)
    assert (row.state, row.last_status, row.attempts) == ("pending", 429, 1)
    assert dt.timedelta(seconds=6.5) < row.next_attempt_at - before < dt.timedelta(seconds=8)
    [second] = _emit(16)  # another member: claimed, but the subscription is held
    done = sending.send_due()
    assert (done.claimed, done.skipped) == (1, 1)
    row = _delivery(second)
    assert (row.state, row.attempts) == ("pending", 0)  # not attempted: no attempt spent
    assert dt.timedelta(seconds=5) < row.next_attempt_at - before < dt.timedelta(seconds=8)
    assert [r.event_id for r in receiver.receiver.requests] == [first]


def test_the_order_per_member_holds_while_an_earlier_event_is_retried(subscribe, receiver, store_a):
    sub = subscribe(receiver.url("/o"))
    a1, b1, a2, a3 = _emit(21, 22, 21, 21)
    receiver.receiver.fail_event(a1, 500)

    done = sending.send_due()
    assert (done.claimed, done.delivered, done.retried) == (2, 1, 1)  # a1 (failed) and b1; a2 waits for a1
    assert sending.send_due().claimed == 0
    retry_at = _delivery(a1).next_attempt_at
    assert _delivery(a2).next_attempt_at == _delivery(a3).next_attempt_at == retry_at  # out of the claim's way

    _make_due(a1, a2, a3)  # the retry's time has come for all three; a2 and a3 still wait for a1
    assert sending.send_due().delivered == 1
    assert sending.send_due().delivered == 1
    assert sending.send_due().delivered == 1
    assert receiver.receiver.order("/o") == {21: [a1, a2, a3], 22: [b1]}
    assert Delivery.objects.filter(subscription=sub, state="delivered").count() == 4


def test_a_paused_subscription_waits_and_flows_again_when_resumed(subscribe, receiver, store_a):
    sub = subscribe(receiver.url("/p"))
    ids = _emit(31, 32)
    Subscription.objects.filter(pk=sub.pk).update(state="paused", paused_reason="by hand")

    assert sending.send_due().claimed == 0
    assert set(Delivery.objects.values_list("state", flat=True)) == {"pending"}

    Subscription.objects.filter(pk=sub.pk).update(state="active", paused_reason="")
    assert sending.send_due().delivered == 2
    assert sorted(r.event_id for r in receiver.receiver.first()) == ids


def test_a_subscription_failing_for_a_day_is_paused_and_its_owner_told(subscribe, receiver, store_a, alice,
                                                                         django_capture_on_commit_callbacks):
    alice.email = "alice@example.com"
    alice.save()
    sub = subscribe(receiver.url("/f"), failing_since=timezone.now() - dt.timedelta(hours=23))
    first, second = _emit(41, 42)
    receiver.receiver.fail(503, times=10)

    sending.send_due(batch=1)
    sub.refresh_from_db()
    assert sub.state == "active"  # failing for 23 hours: not yet
    Subscription.objects.filter(pk=sub.pk).update(failing_since=timezone.now() - dt.timedelta(hours=24, seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        done = sending.send_due(batch=1)

    sub.refresh_from_db()
    assert done.paused == [sub.pk]
    assert (sub.state, sub.paused_reason) == ("paused", "every delivery failed for 24 hours")
    entry = AuditLog.objects.get(action="webhooks.subscription_paused")
    assert entry.object_id == str(sub.pk) and entry.detail["reason"] == sub.paused_reason
    [message] = mail.outbox
    assert message.to == ["alice@example.com"] and sub.name in message.subject
    assert sub.url in message.body
    assert set(Delivery.objects.values_list("state", flat=True)) == {"pending"}


def test_a_success_ends_the_failing_spell(subscribe, receiver, store_a):
    sub = subscribe(receiver.url("/ok"))
    first, second = _emit(51, 52)
    receiver.receiver.fail_event(first, 503)
    sending.send_due(batch=1)
    sub.refresh_from_db()
    assert sub.failing_since is not None
    spell = sub.failing_since
    sending.send_due(batch=1)  # second: delivered
    sub.refresh_from_db()
    assert sub.failing_since is None and spell is not None


def test_a_lease_that_ran_out_makes_the_delivery_due_again(subscribe, receiver, store_a):
    subscribe(receiver.url("/lease"))
    [event_id] = _emit(61)
    claimed = sending.claim(lease=0.3)  # a worker claims, posts, and dies before writing back
    assert [c.event_id for c in claimed] == [event_id]
    sending.post_all(claimed)
    assert sending.claim() == []  # still leased
    time.sleep(0.4)

    assert sending.send_due().delivered == 1

    got = receiver.receiver.requests
    assert [r.attempt for r in got] == [1, 2] and [r.duplicate for r in got] == [False, True]
    assert got[0].sha256 == got[1].sha256
    assert _delivery(event_id).attempts == 2


def test_a_stale_claims_answer_does_not_overwrite_a_newer_one(subscribe, receiver, store_a):
    subscribe(receiver.url("/stale"))
    [event_id] = _emit(62)
    stale = sending.claim(lease=0.2)
    time.sleep(0.3)
    assert sending.send_due().delivered == 1
    receiver.receiver.fail_event(event_id, 422)
    sending.write_back(sending.post_all(stale))  # the first claim's answer arrives late: ignored
    row = _delivery(event_id)
    assert (row.state, row.last_status, row.attempts) == ("delivered", 200, 2)


def test_the_rate_per_subscription_spreads_the_sends(subscribe, receiver, store_a):
    subscribe(receiver.url("/rate"), rate=20)
    _emit(*range(100, 110))

    started = time.monotonic()
    total = sending.run(seconds=10, idle=0.05)

    assert total.delivered == 10
    assert time.monotonic() - started >= 0.4  # 10 at 20 a second, one saved up


def test_an_address_that_turned_private_after_saving_is_not_posted_to(subscribe, receiver, store_a, settings,
                                                                     django_capture_on_commit_callbacks):
    """The URL was checked when saved; its name now leads inside (a changed record, DNS rebinding): the
    connection is refused at send time, nothing reaches the address, and the subscription is paused with
    the reason while its deliveries wait."""
    sub = subscribe(receiver.url("/inside").replace("127.0.0.1", "localhost"))  # saved as if it had passed
    [event_id] = _emit(21, store=store_a.pk)
    settings.SIYU_WEBHOOK_FORBID_PRIVATE = True

    with django_capture_on_commit_callbacks(execute=True):
        done = sending.send_due()

    assert receiver.receiver.requests == []
    assert (done.claimed, done.delivered, done.skipped, done.paused) == (1, 0, 1, [sub.pk])
    row = _delivery(event_id)
    assert (row.state, row.attempts, row.last_status) == ("pending", 0, None)
    assert "127.0.0.1, which is not a public address" in row.last_error
    sub.refresh_from_db()
    assert sub.state == "paused" and "not a public address" in sub.paused_reason

    settings.SIYU_WEBHOOK_FORBID_PRIVATE = False  # the brand allows its own network: resumed, it flows
    Subscription.objects.filter(pk=sub.pk).update(state="active")
    assert sending.send_due().delivered == 1
    assert _delivery(event_id).state == "delivered"
