"""Events priced in points: a seat costs the event's `points_price`, spent through the loyalty
points ledger (loyalty.points.services.ledger: the member's balance row locked, the oldest-expiring
lots consumed, one entry in the member's points history naming the event).

When: the points are spent when a seat becomes the member's, in the transaction that takes it: a
sign-up that gets a seat at once, or a waitlisted member confirming the seat offered to them. A
place on the waitlist costs nothing (but is refused when the balance could not pay, so nobody
queues for a seat they cannot take); an offer that lapses costs nothing. What was spent is kept on
the sign-up (`points_paid`), so a later change of the price touches nobody who already paid.

Refunds: cancelling by the member before the event starts, or by the organiser (one sign-up, or the
whole event) puts the points back into the lots they came from (a lot expired meanwhile: a new lot
expiring by the policy). A refund is claimed with a conditional UPDATE of the sign-up
(`points_refunded_at IS NULL`), so it happens once however often it is asked for."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Event, SignUp
from loyalty.points import reasons
from loyalty.points.errors import InsufficientPoints
from loyalty.points.models import EntryKind, MemberPoints, PointEntry, PointsPolicy
from loyalty.points.services.expiry import expire_locked
from loyalty.points.services.ledger import change_balance, consume, lock_balances, record_entry, restore
from scrm.errors import Conflict

SIGNUP = SignUp._meta.db_table
MAX_PRICE = 1_000_000


def _programme_on(event: Event) -> None:
    if not PointsPolicy.current().enabled:
        raise Conflict(_("“%(title)s” costs points and the points programme is switched off.")
                       % {"title": event.title}, code="points_disabled")


def _short(event: Event, price: int, balance: int) -> InsufficientPoints:
    return InsufficientPoints(
        _("“%(title)s” costs %(price)s pts; the member has %(balance)s pts.")
        % {"title": event.title, "price": price, "balance": balance},
        details={"points": [_("Needs %(price)s, has %(balance)s.") % {"price": price, "balance": balance}]},
    )


def require_balance(*, event: Event, member_id: int, now=None) -> None:
    """Refuse (409 insufficient_points) a member whose balance could not pay the event's price."""
    price = event.points_price
    if not price:
        return
    _programme_on(event)
    balance = MemberPoints.objects.filter(pk=member_id).values_list("balance", flat=True).first() or 0
    if balance < price:
        raise _short(event, price, balance)


def charge(*, signup: SignUp, event: Event, actor, now=None) -> int:
    """Spend the event's price for a seat the sign-up has just taken (inside the caller's
    transaction, which holds the event's row). Returns the points spent; refuses with nothing
    spent when the balance is short."""
    price = event.points_price
    if not price or signup.points_paid:
        return 0
    _programme_on(event)
    now = now or timezone.now()
    member_id = signup.member_id
    with connection.cursor() as cursor:
        balance = lock_balances(cursor, [member_id])[member_id]
        if expire_locked(cursor, [member_id], now):
            balance = MemberPoints.objects.get(pk=member_id).balance
        if balance < price:
            raise _short(event, price, balance)
        balance = change_balance(cursor, member_id, -price, redeemed_total=price)
        lots = consume(cursor, member_id, price)
        cursor.execute(f"UPDATE {SIGNUP} SET points_paid = %s WHERE id = %s", [price, signup.pk])
    params = {"event": event.title, "event_id": event.pk, "signup": signup.pk, "points": price}
    record_entry(member_id=member_id, kind=EntryKind.REDEEM, delta=-price, balance_after=balance, lots=lots,
                 explanation=reasons.describe(reasons.EVENT_SIGNUP, params)[:500],
                 reason_code=reasons.EVENT_SIGNUP, reason_params=params, actor=actor, created_at=now)
    signup.points_paid = price
    return price


def refund(*, signup_id: int, actor, now=None) -> int:
    """Give back what a sign-up paid (inside the caller's transaction), once: returns the points
    given back, 0 when nothing was paid or it was already refunded."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SIGNUP} SET points_refunded_at = %s WHERE id = %s AND points_paid > 0 "
            "AND points_refunded_at IS NULL RETURNING member_id, points_paid, event_id", [now, signup_id])
        row = cursor.fetchone()
        if row is None:
            return 0
        member_id, points, event_id = row
        lock_balances(cursor, [member_id])
        spent = (PointEntry.objects.filter(member_id=member_id, reason_code=reasons.EVENT_SIGNUP,
                                           reason_params__signup=signup_id).values_list("lots", flat=True))
        title = Event.objects.filter(pk=event_id).values_list("title", flat=True).first() or ""
        restored = restore(cursor, member_id, spent, points, now=now,
                           reason=_("Refund for the event %(title)s") % {"title": title})
        balance = change_balance(cursor, member_id, points, redeemed_total=-points)
        params = {"event": title, "event_id": event_id, "signup": signup_id, "points": points}
        record_entry(member_id=member_id, kind=EntryKind.REDEMPTION_CANCELLED, delta=points, balance_after=balance,
                     lots=restored, explanation=reasons.describe(reasons.EVENT_REFUND, params)[:500],
                     reason_code=reasons.EVENT_REFUND, reason_params=params, actor=actor, created_at=now)
        expire_locked(cursor, [member_id], now)  # points whose lot's date passed meanwhile expire again
    return points
