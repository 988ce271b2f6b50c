"""Reminders a day and two hours before (once, opted-out members suppressed, nothing in quiet hours),
the timeline, and the member's export and erasure."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments.models import Booking, BookingReminder, BookingState
from appointments.services import bookings, reminders

pytestmark = pytest.mark.django_db


def _book(carol, eye_test, open_store, member, at, now):
    return bookings.book(actor=carol, service=eye_test, store=open_store, member_id=member.pk, starts_at=at,
                         source="guide", address="", now=now).booking


def test_reminders_once_per_kind_and_opted_out_suppressed(carol, eye_test, open_store, members, tomorrow_noon):
    from members.models import ConsentChannel, ConsentPurpose
    from members.services import consent
    from scrm.actors import SystemActor

    booked_at = tomorrow_noon - dt.timedelta(days=2)
    a, b = members[0][0], members[0][1]
    _book(carol, eye_test, open_store, a, tomorrow_noon, booked_at)
    _book(carol, eye_test, open_store, b, tomorrow_noon + dt.timedelta(hours=2), booked_at)
    consent.set_consent(member=b, purpose=ConsentPurpose.MARKETING, channel=ConsentChannel.ALL, granted=False,
                        actor=SystemActor("test"))
    day_before = tomorrow_noon - dt.timedelta(hours=20)
    assert reminders.remind_due(now=day_before) == 2
    assert reminders.remind_due(now=day_before) == 0  # a second tick writes nothing twice
    rows = {r.member_id: r for r in BookingReminder.objects.all()}
    assert rows[a.pk].state == "sent" and "免费验光" in rows[a.pk].text and rows[a.pk].kind == "day_before"
    assert rows[b.pk].state == "suppressed" and rows[b.pk].reason == "opted_out"
    assert reminders.remind_due(now=tomorrow_noon - dt.timedelta(minutes=90)) == 1  # a's two-hour reminder


def test_no_reminder_in_quiet_hours(carol, eye_test, open_store, member_a, tomorrow_noon):
    from campaigns.services import policy

    pol = policy.current()
    pol.quiet_start, pol.quiet_end = dt.time(0, 0), dt.time(23, 59)
    pol.save()
    _book(carol, eye_test, open_store, member_a, tomorrow_noon, tomorrow_noon - dt.timedelta(days=2))
    assert reminders.remind_due(now=tomorrow_noon - dt.timedelta(hours=20)) == 0
    assert not BookingReminder.objects.exists()


def test_timeline_export_and_erasure(alice, carol, eye_test, open_store, member_a, tomorrow_noon):
    from members import timeline
    from members.services import privacy

    b = bookings.book(actor=carol, service=eye_test, store=open_store, member_id=member_a.pk,
                      starts_at=tomorrow_noon, source="guide", member_note="请准备儿童座椅").booking
    done = bookings.book(actor=carol, service=eye_test, store=open_store, member_id=member_a.pk,
                         starts_at=tomorrow_noon + dt.timedelta(hours=3), source="guide").booking
    bookings.complete(booking=done, actor=carol, notes="左眼 -1.00", now=done.starts_at + dt.timedelta(hours=1))
    page = timeline.page(member_a, carol, kinds=["appointments"])
    texts = [e.text for e in page.entries]
    assert any("Visit: 免费验光" in t and "左眼 -1.00" in t for t in texts), texts
    exported = privacy.export_member_data(member=member_a, actor=alice)
    assert len(exported["appointments"]["bookings"]) == 2
    privacy.erase_member(member=member_a, actor=alice, reason="test")
    b.refresh_from_db()
    done.refresh_from_db()
    assert b.state == BookingState.CANCELLED and b.member_note == ""
    assert done.state == BookingState.COMPLETED and done.notes == ""
    assert Booking.objects.filter(member=member_a).count() == 2
