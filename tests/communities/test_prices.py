"""Events priced in points: a seat spends the price through the points ledger in the transaction
that takes it (a waitlisted member pays when confirming the seat offered), cancellations refund
it once, a short balance is a 409 with nothing taken, and a retried POST never charges twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from communities.models import Event, SignUp, SignUpState
from communities.services import events as event_services
from communities.services import signups
from loyalty.points import reasons
from loyalty.points.errors import InsufficientPoints
from loyalty.points.models import MemberPoints, PointEntry
from loyalty.points.services.adjustments import adjust_points

pytestmark = pytest.mark.django_db


def balance(member) -> int:
    return MemberPoints.objects.filter(pk=member.pk).values_list("balance", flat=True).first() or 0


def give(member, points, alice):
    adjust_points(member=member, points=points, reason="welcome", actor=alice)


def event_entries(member):
    return list(PointEntry.objects.filter(member=member, reason_code__in=[reasons.EVENT_SIGNUP, reasons.EVENT_REFUND])
                .order_by("id").values_list("reason_code", "delta"))


def test_a_seat_spends_the_price_and_the_history_names_the_event(make_event, bob, alice, members):
    a, _b = members
    give(a[0], 80, alice)
    event = make_event(title="Trail run", points_price=50)
    signup = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    assert signup.state == SignUpState.CONFIRMED and signup.points_paid == 50
    assert balance(a[0]) == 30
    entry = PointEntry.objects.get(member=a[0], reason_code=reasons.EVENT_SIGNUP)
    assert entry.delta == -50 and entry.balance_after == 30 and "Trail run" in entry.description
    client = Client()
    client.force_login(bob)
    history = client.get(f"/members/{a[0].pk}/points/").content.decode()
    assert "Event Trail run: 50 pts for a seat" in history
    again = signups.sign_up(event=event, member_id=a[0].pk, actor=bob)  # signing up twice: no second charge
    assert not again.created and balance(a[0]) == 30


def test_not_enough_points_takes_nothing(make_event, bob, alice, members):
    a, _b = members
    give(a[0], 20, alice)
    event = make_event(points_price=50)
    with pytest.raises(InsufficientPoints) as refused:
        signups.sign_up(event=event, member_id=a[0].pk, actor=bob)
    assert "costs 50 pts; the member has 20 pts" in refused.value.message
    event.refresh_from_db()
    assert event.seats_taken == 0 and not SignUp.objects.exists() and balance(a[0]) == 20
    assert event_entries(a[0]) == []


def test_the_waitlist_pays_when_confirming_the_offer(make_event, bob, alice, members):
    a, _b = members
    give(a[0], 100, alice)
    give(a[1], 100, alice)
    give(a[2], 10, alice)
    event = make_event(capacity=1, points_price=40)
    first = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    waiting = signups.sign_up(event=event, member_id=a[1].pk, actor=bob).signup
    assert waiting.state == SignUpState.WAITLISTED and waiting.points_paid == 0 and balance(a[1]) == 100
    with pytest.raises(InsufficientPoints):  # nobody queues for a seat they could not pay
        signups.sign_up(event=event, member_id=a[2].pk, actor=bob)
    signups.cancel(signup=first, actor=bob, by="member")  # before the start: refunded
    assert balance(a[0]) == 100 and event_entries(a[0]) == [("event_signup", -40), ("event_refund", 40)]
    waiting.refresh_from_db()
    assert waiting.state == SignUpState.OFFERED and balance(a[1]) == 100  # offered, not yet paid
    confirmed = signups.confirm_offer(signup=waiting, actor=bob)
    assert confirmed.state == SignUpState.CONFIRMED and confirmed.points_paid == 40 and balance(a[1]) == 60


def test_a_short_balance_at_confirmation_keeps_the_offer(make_event, bob, alice, members):
    a, _b = members
    give(a[0], 50, alice)
    give(a[1], 50, alice)
    event = make_event(capacity=1, points_price=50)
    first = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    waiting = signups.sign_up(event=event, member_id=a[1].pk, actor=bob).signup
    adjust_points(member=a[1], points=-30, reason="spent elsewhere", actor=alice)
    signups.cancel(signup=first, actor=bob)
    with pytest.raises(InsufficientPoints):
        signups.confirm_offer(signup=waiting, actor=bob)
    waiting.refresh_from_db()
    assert waiting.state == SignUpState.OFFERED and waiting.points_paid == 0 and balance(a[1]) == 20


def test_cancelling_refunds_once_and_not_after_the_start(make_event, bob, alice, members):
    a, _b = members
    for member in a[:3]:
        give(member, 100, alice)
    event = make_event(capacity=3, points_price=30)
    taken = [signups.sign_up(event=event, member_id=m.pk, actor=bob).signup for m in a[:3]]
    assert [balance(m) for m in a[:3]] == [70, 70, 70]
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() - dt.timedelta(minutes=5))
    signups.cancel(signup=taken[0], actor=bob, by="member")  # the member, after the start: kept
    assert balance(a[0]) == 70
    signups.cancel(signup=taken[1], actor=bob, by="organiser")  # the organiser: refunded
    signups.cancel(signup=taken[1], actor=bob, by="organiser")  # again: nothing more
    assert balance(a[1]) == 100 and event_entries(a[1]) == [("event_signup", -30), ("event_refund", 30)]
    event_services.cancel_event(event=event, actor=bob)
    event_services.cancel_event(event=event, actor=bob)
    assert [balance(m) for m in a[:3]] == [70, 100, 100]
    assert SignUp.objects.get(pk=taken[2].pk).points_refunded_at is not None
    assert len(event_entries(a[2])) == 2


def test_the_api_refuses_a_short_balance_with_409_and_a_retry_never_charges_twice(club, bob, alice, members):
    a, _b = members
    give(a[0], 100, alice)
    api = APIClient()
    api.force_authenticate(bob)
    start = timezone.now() + dt.timedelta(days=2)
    made = api.post("/api/v1/events/", {"community": club.pk, "title": "Paid ride", "place": "Dock", "capacity": 5,
                                        "starts_at": start.isoformat(),
                                        "ends_at": (start + dt.timedelta(hours=2)).isoformat(),
                                        "points_price": 60}, format="json")
    assert made.status_code == 201 and made.json()["points_price"] == 60
    url = f"/api/v1/events/{made.json()['id']}/signups/"
    first = api.post(url, {"member": a[0].pk}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    replay = api.post(url, {"member": a[0].pk}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == 201 and first.json()["points_paid"] == 60
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    other_key = api.post(url, {"member": a[0].pk}, format="json", HTTP_IDEMPOTENCY_KEY="pay-2")
    assert other_key.status_code == 200  # the sign-up stands; nothing charged again
    assert balance(a[0]) == 40 and event_entries(a[0]) == [("event_signup", -60)]
    short = api.post(url, {"member": a[1].pk}, format="json", HTTP_IDEMPOTENCY_KEY="pay-3")
    assert short.status_code == 409 and short.json()["error"]["code"] == "insufficient_points", short.content
    assert not SignUp.objects.filter(member=a[1]).exists()
    refunded = api.post(f"{url}{first.json()['id']}/cancel/", {"by": "organiser"}, format="json")
    assert refunded.status_code == 200 and refunded.json()["points_refunded_at"] and balance(a[0]) == 100
    price = api.patch(f"/api/v1/events/{made.json()['id']}/", {"points_price": -1}, format="json")
    assert price.status_code == 400 and "points_price" in str(price.json())
