"""Booking reminders through the campaigns' engine: a reminder written `sent` is handed in the same
transaction (one campaign per store, kind and text), ends as an outbox message, is handed once
however often the tick runs, and a failing hand-over writes no reminder."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments.models import BookingReminder
from appointments.services import bookings, reminders
from campaigns.models import Campaign, CampaignStatus, Delivery, OutboxMessage
from campaigns.services import notices, sending
from tests.campaigns.conftest import consent, policy  # noqa: F401

pytestmark = pytest.mark.django_db


def _book(carol, eye_test, open_store, member, at, now):
    return bookings.book(actor=carol, service=eye_test, store=open_store, member_id=member.pk, starts_at=at,
                         source="guide", address="", now=now).booking


@pytest.fixture
def booked(carol, eye_test, open_store, members, tomorrow_noon, policy):  # noqa: F811
    """a[0] at noon and a[1] at 13:00 consent; a[2] at 14:00 gave no marketing answer (a reminder is
    a service message: reminded all the same); out, at 15:00, withdrew everything."""
    from members.models import Member

    a, _b = members
    out = Member.objects.create(name="王五", phone="+8613800139999", home_store=open_store)
    booked_at = tomorrow_noon - dt.timedelta(days=2)
    for member in (a[0], a[1]):
        consent(member)
    consent(out, granted=False)
    for hours, member in ((0, a[0]), (1, a[1]), (2, a[2]), (3, out)):
        _book(carol, eye_test, open_store, member, tomorrow_noon + dt.timedelta(hours=hours), booked_at)
    return a, out


def test_a_booking_reminder_ends_as_an_outbox_message_once(booked, tomorrow_noon, open_store):
    a, out = booked
    day_before = tomorrow_noon - dt.timedelta(hours=20)
    assert reminders.remind_due(now=day_before) == 4
    rows = {r.member_id: r for r in BookingReminder.objects.all()}
    assert rows[out.pk].state == "suppressed"
    campaigns = list(Campaign.objects.order_by("id"))
    assert len(campaigns) == 3  # one per time: the suppressed reminder is not handed
    assert all(c.store_id == open_store.pk and c.status == CampaignStatus.SENDING and c.channel == "outbox"
               for c in campaigns)
    assert all(c.purpose == "transactional" for c in campaigns)
    assert [c.expires_at for c in campaigns] == [tomorrow_noon + dt.timedelta(hours=h) for h in (0, 1, 2)]
    assert {d.member_id: (d.state, d.reason) for d in Delivery.objects.all()} == {
        a[0].pk: ("pending", ""), a[1].pk: ("pending", ""), a[2].pk: ("pending", "")}

    assert reminders.remind_due(now=day_before + dt.timedelta(minutes=10)) == 0  # handed once
    assert Campaign.objects.count() == 3 and Delivery.objects.count() == 3

    report = sending.tick(now_fn=lambda: day_before)
    assert report.sent == 3
    messages = {m.member_id: m.text for m in OutboxMessage.objects.all()}
    assert messages == {member.pk: rows[member.pk].text for member in a}
    assert "免费验光" in messages[a[0].pk] and "tomorrow" in messages[a[0].pk]
    assert sending.tick(now_fn=lambda: day_before).sent == 0


def test_two_hour_reminders_are_a_new_hand_over(booked, tomorrow_noon):
    a, _b = booked
    assert reminders.remind_due(now=tomorrow_noon - dt.timedelta(hours=20)) == 4
    assert reminders.remind_due(now=tomorrow_noon - dt.timedelta(minutes=90)) == 1  # a[0]'s two-hour one
    latest = Campaign.objects.order_by("-id").first()
    assert list(Delivery.objects.filter(campaign=latest).values_list("member_id", flat=True)) == [a[0].pk]
    assert Campaign.objects.count() == 4


def test_a_failing_hand_over_writes_no_reminder(booked, tomorrow_noon, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the engine is down")

    monkeypatch.setattr(notices, "send_notice", broken)
    with pytest.raises(RuntimeError):
        reminders.remind_due(now=tomorrow_noon - dt.timedelta(hours=20))
    assert not BookingReminder.objects.exists()  # the next tick writes and hands them
    monkeypatch.undo()
    assert reminders.remind_due(now=tomorrow_noon - dt.timedelta(hours=20)) == 4
    assert Delivery.objects.count() == 3
