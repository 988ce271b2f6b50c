"""Booking, rescheduling, cancelling and the visit, with every bad input refused and nothing held."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from appointments.models import Booking, BookingState, CancelledBy, PriceKind
from appointments.services import availability, bookings, catalogue
from journeys.models import Task
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import Event

pytestmark = pytest.mark.django_db


def _book(actor, service, store, member, at, **kw):
    return bookings.book(actor=actor, service=service, store=store, member_id=member.pk, starts_at=at,
                         source=kw.pop("source", "guide"), **kw)


def test_a_booking_holds_the_staff_member_and_the_slot(carol, eye_test, open_store, member_a, tomorrow_noon):
    result = _book(carol, eye_test, open_store, member_a, tomorrow_noon)
    b = result.booking
    assert result.created and b.staff_id == carol.pk and b.state == BookingState.BOOKED
    assert b.ends_at - b.starts_at == dt.timedelta(minutes=45)
    assert b.held_until - b.ends_at == dt.timedelta(minutes=15)
    assert Event.objects.filter(type="booking.created", member_id=member_a.pk).count() == 1
    day = timezone.localtime(tomorrow_noon).date()
    starts = {s.starts_at for s in availability.slots(service=eye_test, store=open_store, start_day=day, days=1)}
    # 12:00 and everything whose held time would touch 12:00-13:00 are gone; 13:00 is free again.
    assert tomorrow_noon not in starts
    assert tomorrow_noon - dt.timedelta(minutes=45) not in starts
    assert tomorrow_noon - dt.timedelta(minutes=60) in starts
    assert tomorrow_noon + dt.timedelta(minutes=60) in starts


def test_the_same_slot_twice_is_refused(carol, eye_test, open_store, members, tomorrow_noon):
    _book(carol, eye_test, open_store, members[0][0], tomorrow_noon)
    with pytest.raises(Conflict) as taken:
        _book(carol, eye_test, open_store, members[0][1], tomorrow_noon + dt.timedelta(minutes=30))
    assert taken.value.code == "slot_taken"
    assert Booking.objects.count() == 1


def test_a_request_key_answers_the_first_booking(carol, eye_test, open_store, member_a, tomorrow_noon):
    first = _book(carol, eye_test, open_store, member_a, tomorrow_noon, request_key="k1")
    again = _book(carol, eye_test, open_store, member_a, tomorrow_noon, request_key="k1")
    assert not again.created and again.booking.pk == first.booking.pk
    assert Booking.objects.count() == 1


@pytest.mark.parametrize("case", ["past", "too_soon", "too_far", "closes", "closed_day", "naive"])
def test_bad_starts_are_refused_with_nothing_held(case, carol, eye_test, open_store, member_a, tomorrow_noon):
    from appointments.models import OpeningHours

    now = timezone.now()
    at = {
        "past": now - dt.timedelta(hours=1),
        "too_soon": now + dt.timedelta(minutes=20),
        "too_far": now + dt.timedelta(days=40),
        "closes": tomorrow_noon.replace(hour=17, minute=30),
        "closed_day": tomorrow_noon,
        "naive": dt.datetime(2030, 1, 1, 12),
    }[case]
    if case == "closed_day":
        OpeningHours.objects.filter(store=open_store, weekday=timezone.localtime(tomorrow_noon).weekday()).delete()
    with pytest.raises(InvalidInput) as refused:
        _book(carol, eye_test, open_store, member_a, at)
    assert "starts_at" in refused.value.details
    if case == "closes":
        assert "45 minutes" in str(refused.value) and "18:00" in str(refused.value)
    assert Booking.objects.count() == 0 and Event.objects.filter(type="booking.created").count() == 0


def test_a_clerk_books_at_their_own_store_only(carol, eye_test, store_b, member_a, tomorrow_noon):
    with pytest.raises(Forbidden):
        _book(carol, eye_test, store_b, member_a, tomorrow_noon)
    assert Booking.objects.count() == 0


def test_not_offered_says_so(alice, eye_test, store_b, member_a, tomorrow_noon):
    with pytest.raises(InvalidInput) as refused:
        _book(alice, eye_test, store_b, member_a, tomorrow_noon)
    assert refused.value.details == {"service": ["Not offered by the store BJ01."]}


def test_a_clerk_cannot_book_another_stores_member(carol, eye_test, open_store, members, tomorrow_noon):
    with pytest.raises(NotInScope):
        _book(carol, eye_test, open_store, members[1][0], tomorrow_noon)


def test_points_are_spent_and_refunded_and_a_short_balance_holds_nothing(
        alice, carol, bob, eye_test, open_store, member_a, tomorrow_noon):
    from loyalty.points.errors import InsufficientPoints
    from loyalty.points.models import MemberPoints
    from loyalty.points.services.adjustments import adjust_points

    service = catalogue.save_service(actor=bob, service=eye_test, store=None,
                                     values={"price_kind": PriceKind.POINTS, "points_price": 100})
    with pytest.raises(InsufficientPoints):
        _book(carol, service, open_store, member_a, tomorrow_noon)
    assert Booking.objects.count() == 0
    adjust_points(member=member_a, points=150, reason="test", actor=alice)
    b = _book(carol, service, open_store, member_a, tomorrow_noon).booking
    assert b.points_paid == 100 and MemberPoints.objects.get(pk=member_a.pk).balance == 50
    bookings.cancel(booking=b, actor=carol, by=CancelledBy.MEMBER)
    assert MemberPoints.objects.get(pk=member_a.pk).balance == 150
    bookings.cancel(booking=b, actor=carol, by=CancelledBy.MEMBER)  # twice: refunded once
    assert MemberPoints.objects.get(pk=member_a.pk).balance == 150
    assert Event.objects.filter(type="booking.cancelled").count() == 1


def test_the_member_cancels_only_within_the_rule(carol, eye_test, open_store, member_a, tomorrow_noon):
    b = _book(carol, eye_test, open_store, member_a, tomorrow_noon).booking
    late = tomorrow_noon - dt.timedelta(hours=3)
    with pytest.raises(Conflict) as refused:
        bookings.cancel(booking=b, actor=carol, by=CancelledBy.MEMBER, now=late)
    assert refused.value.code == "outside_rule"
    assert bookings.cancel(booking=b, actor=carol, by=CancelledBy.STORE, now=late).state == BookingState.CANCELLED


def test_reschedule_moves_the_booking_and_a_taken_slot_leaves_it(carol, eye_test, open_store, members, tomorrow_noon):
    first = _book(carol, eye_test, open_store, members[0][0], tomorrow_noon).booking
    other = _book(carol, eye_test, open_store, members[0][1], tomorrow_noon + dt.timedelta(hours=2)).booking
    with pytest.raises(Conflict):
        bookings.reschedule(booking=first, actor=carol, starts_at=other.starts_at)
    first.refresh_from_db()
    assert first.state == BookingState.BOOKED
    # Moving 15 minutes later overlaps its own old time only: allowed.
    moved = bookings.reschedule(booking=first, actor=carol, starts_at=tomorrow_noon + dt.timedelta(minutes=15))
    first.refresh_from_db()
    assert first.state == BookingState.CANCELLED and moved.rescheduled_from_id == first.pk


def test_the_visit_check_in_complete_and_follow_up_task(carol, eye_test, open_store, member_a, tomorrow_noon):
    from members.models import ConsentChannel, ConsentPurpose
    from members.services import consent
    from scrm.actors import SystemActor

    consent.set_consent(member=member_a, purpose=ConsentPurpose.MARKETING, channel=ConsentChannel.WECOM,
                        granted=True, actor=SystemActor("test"))
    b = _book(carol, eye_test, open_store, member_a, tomorrow_noon).booking
    with pytest.raises(Conflict):
        bookings.check_in(booking=b, actor=carol)  # two days ahead
    at = tomorrow_noon - dt.timedelta(minutes=10)
    assert bookings.check_in(booking=b, actor=carol, now=at).state == BookingState.CHECKED_IN
    assert bookings.check_in(booking=b, actor=carol, now=at).state == BookingState.CHECKED_IN
    assert Event.objects.filter(type="booking.checked_in").count() == 1
    done = bookings.complete(booking=b, actor=carol, notes="-1.25 两眼", now=tomorrow_noon + dt.timedelta(hours=1))
    bookings.complete(booking=b, actor=carol, now=tomorrow_noon + dt.timedelta(hours=1))
    assert done.state == BookingState.COMPLETED and done.notes == "-1.25 两眼"
    tasks = Task.objects.filter(member=member_a)
    assert tasks.count() == 1 and tasks[0].title == "问问新镜片戴着舒服吗" and tasks[0].assignee_id == carol.pk


def test_no_show_only_after_the_start(carol, eye_test, open_store, member_a, tomorrow_noon):
    b = _book(carol, eye_test, open_store, member_a, tomorrow_noon).booking
    with pytest.raises(Conflict):
        bookings.mark_no_show(booking=b, actor=carol)
    after = tomorrow_noon + dt.timedelta(minutes=30)
    assert bookings.mark_no_show(booking=b, actor=carol, now=after).state == BookingState.NO_SHOW


def test_time_off_removes_slots(bob, carol, eye_test, open_store, tomorrow_noon):
    day = timezone.localtime(tomorrow_noon).date()
    before = len(availability.slots(service=eye_test, store=open_store, start_day=day, days=1))
    catalogue.add_time_off(actor=bob, store=open_store, staff_id=carol.pk, starts_at=tomorrow_noon,
                           ends_at=tomorrow_noon + dt.timedelta(hours=2))
    after = availability.slots(service=eye_test, store=open_store, start_day=day, days=1)
    assert len(after) < before and tomorrow_noon not in {s.starts_at for s in after}


def test_a_clerk_may_not_change_the_catalogue(carol, open_store):
    with pytest.raises(Forbidden):
        catalogue.save_service(actor=carol, store=open_store, values={"name": "x", "duration_minutes": 30})


def test_figures(alice, bob, carol, eye_test, open_store, members, tomorrow_noon):
    from appointments import queries
    from loyalty.orders.models import Order

    a, b = members[0][0], members[0][1]
    first = _book(carol, eye_test, open_store, a, tomorrow_noon).booking
    second = _book(carol, eye_test, open_store, b, tomorrow_noon + dt.timedelta(hours=2)).booking
    third = _book(carol, eye_test, open_store, a, tomorrow_noon + dt.timedelta(hours=4)).booking
    bookings.complete(booking=first, actor=carol, now=tomorrow_noon + dt.timedelta(hours=1))
    bookings.mark_no_show(booking=second, actor=carol, now=tomorrow_noon + dt.timedelta(hours=3))
    del third
    Order.objects.create(member=a, store=open_store, external_id="A1", channel="pos", total_amount=100,
                         placed_at=tomorrow_noon + dt.timedelta(days=1))
    day = timezone.localtime(tomorrow_noon).date()
    f = queries.figures(bob, start=day, end=day, days_after=7)
    assert f["bookings"] == 3 and f["by_state"]["no_show"] == 1
    assert f["no_show_rate"] == 0.5
    assert f["members"] == 2 and f["repeat_members"] == 1
    [staff] = f["utilisation_staff"]
    assert staff["booked_minutes"] == 90 and staff["working_minutes"] == 480  # completed + booked, 8 h a day
    assert f["orders_after"]["visited"] == 1 and f["orders_after"]["visited_ordered"] == 1
    assert f["orders_after"]["did_not_book"] == 1  # the third member of store A
