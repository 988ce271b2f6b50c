"""Event reminders: a day before and two hours before, to confirmed seats of live members who did
not withdraw everything, exactly once per (sign-up, kind), also with two workers at once (real
PostgreSQL sessions, one per thread)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connections, transaction
from django.utils import timezone

from communities import hooks
from communities.models import EventReminder, SignUp
from communities.services import reminders, signups
from members.models import Member
from members.services import consent


def kinds_by_member():
    return sorted(EventReminder.objects.values_list("member_id", "kind"))


@pytest.mark.django_db
def test_who_is_reminded_and_when(make_event, bob, alice, members):
    a, _b = members
    now = timezone.now()
    event = make_event(title="Night run", starts_at=now + dt.timedelta(hours=30), capacity=2)
    seat = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    signups.sign_up(event=event, member_id=a[1].pk, actor=bob)
    signups.sign_up(event=event, member_id=a[2].pk, actor=bob)  # waitlisted: not reminded
    consent.set_consent(member=a[1], purpose="marketing", channel="all", granted=False, actor=alice)
    assert SignUp.objects.filter(member=a[2], state="waitlisted").exists()

    assert reminders.remind_due(now=now + dt.timedelta(hours=1)) == 0  # 29 h before: not yet
    assert reminders.remind_due(now=now + dt.timedelta(hours=7)) == 1  # 23 h before: the day-before one
    assert reminders.remind_due(now=now + dt.timedelta(hours=8)) == 0  # again: nothing more
    reminder = EventReminder.objects.get()
    assert (reminder.member_id, reminder.kind, reminder.signup_id) == (a[0].pk, "day_before", seat.pk)
    assert "Night run is tomorrow" in reminder.text and seat.code in reminder.text and "Riverside" in reminder.text
    assert reminders.remind_due(now=now + dt.timedelta(hours=29)) == 1  # 1 h before: two hours before
    assert reminders.remind_due(now=now + dt.timedelta(hours=29, minutes=30)) == 0
    assert reminders.remind_due(now=now + dt.timedelta(hours=31)) == 0  # started: never late
    assert kinds_by_member() == [(a[0].pk, "day_before"), (a[0].pk, "two_hours")]


@pytest.mark.django_db
def test_late_sign_ups_cancelled_and_erased_members(make_event, bob, members):
    a, _b = members
    now = timezone.now()
    event = make_event(starts_at=now + dt.timedelta(hours=10), capacity=5)
    fresh = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup  # signed up 10 h before
    gone = signups.sign_up(event=event, member_id=a[1].pk, actor=bob).signup
    erased = signups.sign_up(event=event, member_id=a[2].pk, actor=bob).signup
    signups.cancel(signup=gone, actor=bob)
    Member.objects.filter(pk=a[2].pk).update(erased_at=now)
    assert reminders.remind_due(now=now + dt.timedelta(hours=1)) == 0  # no "day before" for a late sign-up
    assert reminders.remind_due(now=now + dt.timedelta(hours=8, minutes=30)) == 1
    assert list(EventReminder.objects.values_list("signup_id", "kind")) == [(fresh.pk, "two_hours")]
    assert erased.pk not in EventReminder.objects.values_list("signup_id", flat=True)


@pytest.fixture
def crowded_event(make_event, bob, store_a):
    now = timezone.now()
    event = make_event(starts_at=now + dt.timedelta(hours=30), capacity=40)
    people = Member.objects.bulk_create([Member(name=f"跑者{i}", home_store=store_a) for i in range(40)])
    for member in people:
        signups.sign_up(event=event, member_id=member.pk, actor=bob)
    return event, now + dt.timedelta(hours=7)


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_skips_what_the_first_holds_and_nobody_is_reminded_twice(crowded_event):
    _event, at = crowded_event
    holding, release = threading.Event(), threading.Event()
    first: list[int] = []

    def slow_worker():
        try:
            with transaction.atomic():
                first.append(reminders.remind_batch(now=at, batch=15))
                holding.set()
                release.wait(20)  # still uncommitted while the other worker runs
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_worker)
    thread.start()
    assert holding.wait(20)
    second: list[int] = []
    other = threading.Thread(target=lambda: (second.append(reminders.remind_due(now=at, batch=10)),
                                             connections.close_all()))
    other.start()
    other.join(15)
    assert not other.is_alive(), "the second worker waited on the first one's rows"
    release.set()
    thread.join(20)
    assert first == [15] and second == [25]
    assert reminders.remind_due(now=at) == 0
    assert EventReminder.objects.count() == 40
    assert EventReminder.objects.values("signup_id", "kind").distinct().count() == 40


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_write_each_reminder_once(crowded_event):
    _event, at = crowded_event
    start = threading.Barrier(2)
    written: list[int] = []

    def tick():
        try:
            start.wait(10)
            written.append(reminders.remind_due(now=at, batch=7))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(written) == 40 and EventReminder.objects.count() == 40


@pytest.fixture
def sent_batches():
    """A stand-in for the campaigns' engine: records every batch handed to it."""
    seen: list = []

    def sender(batch):
        seen.append(batch)
        return f"test:{len(seen)}"

    before = hooks.notice_sender()
    hooks.register_notice_sender(sender)
    yield seen
    hooks.unregister_notice_sender(sender)
    if before is not None:  # the campaigns' own sender, for the tests after these
        hooks.register_notice_sender(before)


@pytest.mark.django_db
def test_the_member_promoted_from_the_waitlist_is_told_once(make_event, bob, members):
    a, _b = members
    event = make_event(title="Hill repeats", capacity=1)
    seat = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    waiting = signups.sign_up(event=event, member_id=a[1].pk, actor=bob).signup
    assert not EventReminder.objects.filter(kind="seat_offered").exists()
    signups.cancel(signup=seat, actor=bob)
    waiting.refresh_from_db()
    assert waiting.state == "offered"
    told = EventReminder.objects.get(kind="seat_offered")
    assert (told.signup_id, told.member_id, told.handed_at) == (waiting.pk, a[1].pk, None)
    assert "Hill repeats" in told.text and waiting.code in told.text and "confirm by" in told.text
    signups.fill_free_seats(event.pk)  # nothing more free: nothing more told
    assert EventReminder.objects.filter(kind="seat_offered").count() == 1


@pytest.mark.django_db
def test_without_a_sender_notices_wait_and_nothing_is_lost(make_event, bob, members):
    a, _b = members
    now = timezone.now()
    event = make_event(starts_at=now + dt.timedelta(hours=30), capacity=2)
    signups.sign_up(event=event, member_id=a[0].pk, actor=bob)
    assert reminders.remind_due(now=now + dt.timedelta(hours=7)) == 1
    before = hooks.notice_sender()
    hooks._senders.clear()
    try:
        assert reminders.hand_over(now=now) == 0
    finally:
        if before is not None:
            hooks.register_notice_sender(before)
    assert EventReminder.objects.filter(handed_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_notices_are_handed_once_per_event_and_kind(make_event, bob, members, sent_batches):
    a, _b = members
    now = timezone.now()
    run = make_event(title="Night run", starts_at=now + dt.timedelta(hours=30), capacity=2)
    ride = make_event(title="Dawn ride", starts_at=now + dt.timedelta(hours=31), capacity=1)
    for member in a[:3]:
        signups.sign_up(event=run, member_id=member.pk, actor=bob)
    signups.sign_up(event=ride, member_id=a[0].pk, actor=bob)
    later = now + dt.timedelta(hours=8)
    assert reminders.remind_due(now=later) == 3
    assert reminders.hand_over(now=later, batch=1) == 3  # a batch of one: three calls, one kind and event each
    assert reminders.hand_over(now=later) == 0
    by_event = sorted((b.event_id, b.kind, b.member_ids) for b in sent_batches)
    assert by_event == sorted([(run.pk, "day_before", (a[0].pk,)), (run.pk, "day_before", (a[1].pk,)),
                               (ride.pk, "day_before", (a[0].pk,))])
    assert all("tomorrow" in b.text and b.store_id == run.store_id for b in sent_batches)
    assert not EventReminder.objects.filter(handed_at__isnull=True).exists()
    assert set(EventReminder.objects.values_list("handed_to", flat=True)) == {"test:1", "test:2", "test:3"}


@pytest.mark.django_db
def test_one_hand_over_takes_every_event_and_kind_waiting(make_event, bob, members, sent_batches):
    a, _b = members
    now = timezone.now()
    run = make_event(title="Night run", starts_at=now + dt.timedelta(hours=30), capacity=2)
    ride = make_event(title="Dawn ride", starts_at=now + dt.timedelta(hours=31), capacity=2)
    for member in a[:2]:
        signups.sign_up(event=run, member_id=member.pk, actor=bob)
        signups.sign_up(event=ride, member_id=member.pk, actor=bob)
    later = now + dt.timedelta(hours=8)
    assert reminders.remind_due(now=later) == 4
    # A round takes one event and kind, fewer than a batch: the next round takes the other event.
    assert reminders.hand_over(now=later) == 4
    assert sorted((b.event_id, b.member_ids) for b in sent_batches) == sorted(
        [(run.pk, (a[0].pk, a[1].pk)), (ride.pk, (a[0].pk, a[1].pk))])
    assert sorted(EventReminder.objects.values_list("handed_to", flat=True)) == ["test:1", "test:1", "test:2", "test:2"]


@pytest.mark.django_db
def test_a_failing_sender_hands_nothing_of_its_batch(make_event, bob, members):
    a, _b = members
    now = timezone.now()
    event = make_event(starts_at=now + dt.timedelta(hours=30), capacity=2)
    signups.sign_up(event=event, member_id=a[0].pk, actor=bob)
    reminders.remind_due(now=now + dt.timedelta(hours=7))

    def broken(batch):
        raise RuntimeError("the channel is down")

    before = hooks.notice_sender()
    hooks.register_notice_sender(broken)
    try:
        with pytest.raises(RuntimeError):
            reminders.hand_over(now=now)
    finally:
        hooks.unregister_notice_sender(broken)
        if before is not None:
            hooks.register_notice_sender(before)
    assert EventReminder.objects.filter(handed_at__isnull=True).count() == 1
