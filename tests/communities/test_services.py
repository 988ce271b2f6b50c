"""Sign-up, waitlist, offers, cancellation, check-in and the rules around them (services)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from communities.models import CheckIn, Event, SignUp, SignUpState
from communities.services import checkins, signups
from communities.services import communities as community_services
from communities.services import events as event_services
from members.models import MemberTag
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope

pytestmark = pytest.mark.django_db


def test_past_capacity_goes_to_the_waitlist_in_order(make_event, members, bob):
    a, _b = members
    event = make_event(capacity=1)
    first = signups.sign_up(event=event, member_id=a[0].pk, actor=bob)
    second = signups.sign_up(event=event, member_id=a[1].pk, actor=bob)
    third = signups.sign_up(event=event, member_id=a[2].pk, actor=bob)
    assert first.signup.state == SignUpState.CONFIRMED
    assert (second.signup.state, second.signup.position) == (SignUpState.WAITLISTED, 1)
    assert (third.signup.state, third.signup.position) == (SignUpState.WAITLISTED, 2)
    event.refresh_from_db()
    assert event.seats_taken == 1
    again = signups.sign_up(event=event, member_id=a[1].pk, actor=bob)
    assert (again.created, again.signup.pk) == (False, second.signup.pk)


def test_a_freed_seat_is_offered_to_the_first_in_line_then_the_next_when_it_lapses(make_event, members, bob):
    a, _b = members
    event = make_event(capacity=1, offer_minutes=30)
    first = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    second = signups.sign_up(event=event, member_id=a[1].pk, actor=bob).signup
    third = signups.sign_up(event=event, member_id=a[2].pk, actor=bob).signup
    signups.cancel(signup=first, actor=bob, by="member")
    second.refresh_from_db()
    assert second.state == SignUpState.OFFERED
    assert second.offer_expires_at == second.offered_at + dt.timedelta(minutes=30)
    event.refresh_from_db()
    assert event.seats_taken == 1  # the seat went with the offer
    assert signups.expire_offers(now=timezone.now()) == 0
    assert signups.expire_offers(now=timezone.now() + dt.timedelta(minutes=31)) == 1
    second.refresh_from_db()
    third.refresh_from_db()
    assert second.state == SignUpState.EXPIRED
    assert third.state == SignUpState.OFFERED
    with pytest.raises(Conflict) as lapsed:
        signups.confirm_offer(signup=second, actor=bob)
    assert lapsed.value.code == "no_offer"
    assert signups.confirm_offer(signup=third, actor=bob).state == SignUpState.CONFIRMED
    event.refresh_from_db()
    assert event.seats_taken == 1


def test_a_confirmation_after_the_window_is_refused_and_the_seat_moves_on(make_event, members, bob):
    a, _b = members
    event = make_event(capacity=1, offer_minutes=1)
    first = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    second = signups.sign_up(event=event, member_id=a[1].pk, actor=bob).signup
    third = signups.sign_up(event=event, member_id=a[2].pk, actor=bob).signup
    signups.cancel(signup=first, actor=bob)
    SignUp.objects.filter(pk=second.pk).update(offer_expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Conflict) as refused:
        signups.confirm_offer(signup=second, actor=bob)
    assert refused.value.code == "offer_lapsed"
    third.refresh_from_db()
    assert third.state == SignUpState.OFFERED  # the lapse committed although the confirmation was refused


def test_raising_the_capacity_offers_the_new_seats_in_order(make_event, members, bob):
    a, _b = members
    event = make_event(capacity=1)
    for m in a:
        signups.sign_up(event=event, member_id=m.pk, actor=bob)
    event = event_services.update_event(event=event, actor=bob, capacity=2)
    states = dict(SignUp.objects.filter(event=event).values_list("member_id", "state"))
    assert states == {a[0].pk: "confirmed", a[1].pk: "offered", a[2].pk: "waitlisted"}
    assert event.seats_taken == 2


def test_bad_input_is_a_clear_error_and_changes_nothing(make_event, members, bob):
    a, _b = members
    event = make_event(capacity=2)
    signups.sign_up(event=event, member_id=a[0].pk, actor=bob)
    signups.sign_up(event=event, member_id=a[1].pk, actor=bob)
    with pytest.raises(InvalidInput) as low:
        event_services.update_event(event=event, actor=bob, capacity=1)
    assert "capacity" in low.value.details
    with pytest.raises(InvalidInput) as backwards:
        event_services.update_event(event=event, actor=bob, ends_at=event.starts_at - dt.timedelta(hours=1))
    assert "ends_at" in backwards.value.details
    fresh = Event.objects.get(pk=event.pk)
    assert (fresh.capacity, fresh.ends_at) == (2, event.ends_at)
    with pytest.raises(InvalidInput) as made:
        make_event(starts_at=timezone.now() + dt.timedelta(days=2), ends_at=timezone.now() + dt.timedelta(days=1))
    assert "ends_at" in made.value.details
    closed = make_event(title="Closed run", signup_closes_at=timezone.now() + dt.timedelta(hours=1))
    Event.objects.filter(pk=closed.pk).update(signup_closes_at=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(signups.SignUpClosed) as late:
        signups.sign_up(event=closed, member_id=a[0].pk, actor=bob)
    assert "Sign-up closed" in late.value.message
    assert not SignUp.objects.filter(event=closed).exists()
    closed.refresh_from_db()
    assert closed.seats_taken == 0


def test_another_stores_staff_cannot_manage_the_community(club, make_event, members, dave, carol, store_b):
    a, b = members
    with pytest.raises(Forbidden):
        community_services.update_community(community=club, actor=dave, description="mine now")
    with pytest.raises(Forbidden):
        make_event(actor=dave)
    event = make_event()
    with pytest.raises(Forbidden):
        event_services.update_event(event=event, actor=dave, capacity=10)
    with pytest.raises(Forbidden):
        checkins.check_in(event=event, actor=dave, source="typed", member_id=b[0].pk)
    with pytest.raises(NotInScope):  # store A's staff reach only store A's members
        signups.sign_up(event=event, member_id=b[0].pk, actor=carol)
    # the owner (a clerk of the store) manages it
    assert community_services.update_community(community=club, actor=carol, description="Tuesdays").description


def test_a_clerk_who_is_not_owner_or_assistant_cannot_manage(club, store_a):
    from scrm.models import User

    erin = User.objects.create(username="erin", role="store_staff", store=store_a)
    with pytest.raises(Forbidden):
        community_services.update_community(community=club, actor=erin, description="x")
    community_services.update_community(community=club, actor=club.owner, assistants=[erin])
    assert community_services.update_community(community=club, actor=erin, description="x").description == "x"


def test_check_in_twice_answers_who_was_first(make_event, members, bob, carol):
    a, _b = members
    event = make_event()
    ticket = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    first = checkins.check_in(event=event, actor=carol, source="scan", code=ticket.code.lower(), device="door 1")
    second = checkins.check_in(event=event, actor=bob, source="list", member_id=a[0].pk, device="door 2")
    assert first.created and not second.created
    assert second.checkin.pk == first.checkin.pk
    assert "Carol" in checkins.answer(second) and "door 1" in checkins.answer(second)
    ticket.refresh_from_db()
    assert ticket.state == SignUpState.ATTENDED
    assert MemberTag.objects.filter(member=a[0], tag=event.attendance_tag).exists()
    assert event.attendance_tag.name == "attended: Night run"


def test_walk_ins_follow_the_events_rule(make_event, members, bob, carol):
    a, _b = members
    open_door = make_event(title="Open run")
    result = checkins.check_in(event=open_door, actor=carol, source="typed", member_id=a[1].pk)
    assert result.created and result.checkin.walk_in and result.checkin.signup is None
    strict = make_event(title="Members only", walk_ins_allowed=False, capacity=1)
    signups.sign_up(event=strict, member_id=a[0].pk, actor=bob)
    waiting = signups.sign_up(event=strict, member_id=a[2].pk, actor=bob).signup
    with pytest.raises(checkins.WalkInRefused):
        checkins.check_in(event=strict, actor=carol, source="typed", member_id=a[1].pk)
    with pytest.raises(checkins.WalkInRefused):  # on the waitlist is no seat
        checkins.check_in(event=strict, actor=carol, source="scan", code=waiting.code)
    assert not CheckIn.objects.filter(event=strict).exists()
    with pytest.raises(NotInScope):
        checkins.check_in(event=strict, actor=carol, source="typed", code="NOSUCHCODE")
