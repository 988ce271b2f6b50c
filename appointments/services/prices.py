"""Services priced in points: spent through the loyalty points ledger when the booking is made, in
its transaction (the member's balance row locked, the oldest-expiring lots consumed, one entry in the
member's points history naming the service), and given back once when the store cancels, or when the
member cancels within the service's rule. A no-show keeps what was paid. The refund is claimed with
a conditional UPDATE of the booking (`points_refunded_at IS NULL`), so it happens once however often
it is asked for. The same ledger steps as communities' seats (communities.services.prices)."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from appointments.models import Booking, PriceKind, Service
from loyalty.points import reasons
from loyalty.points.errors import InsufficientPoints
from loyalty.points.models import EntryKind, MemberPoints, PointEntry, PointsPolicy
from loyalty.points.services.expiry import expire_locked
from loyalty.points.services.ledger import change_balance, consume, lock_balances, record_entry, restore
from scrm.errors import Conflict

BOOKING = Booking._meta.db_table
SPENT = "appointment_booking"
REFUNDED = "appointment_refund"
WORDS = {
    SPENT: gettext_lazy("Appointment %(service)s: %(points)s pts"),
    REFUNDED: gettext_lazy("Appointment %(service)s: %(points)s pts refunded (booking cancelled)"),
}


def register_reasons() -> None:
    """Word the two reasons in the points history (the ledger's renderers are keyed by code)."""
    for code, text in WORDS.items():
        reasons.RENDERERS.setdefault(code, lambda p, text=text: str(text) % p)


def price_of(service: Service) -> int:
    return service.points_price if service.price_kind == PriceKind.POINTS else 0


def charge(*, booking: Booking, service: Service, actor, now=None) -> int:
    """Spend the service's points for a booking just written (inside its transaction); refuses with
    nothing spent when the programme is off or the balance is short."""
    price = price_of(service)
    if not price:
        return 0
    if not PointsPolicy.current().enabled:
        raise Conflict(_("“%(service)s” costs points and the points programme is switched off.")
                       % {"service": service.name}, code="points_disabled")
    now = now or timezone.now()
    member_id = booking.member_id
    with connection.cursor() as cursor:
        balance = lock_balances(cursor, [member_id])[member_id]
        if expire_locked(cursor, [member_id], now):
            balance = MemberPoints.objects.get(pk=member_id).balance
        if balance < price:
            raise InsufficientPoints(
                _("“%(service)s” costs %(price)s pts; the member has %(balance)s pts.")
                % {"service": service.name, "price": price, "balance": balance},
                details={"points": [_("Needs %(price)s, has %(balance)s.") % {"price": price, "balance": balance}]})
        balance = change_balance(cursor, member_id, -price, redeemed_total=price)
        lots = consume(cursor, member_id, price)
        cursor.execute(f"UPDATE {BOOKING} SET points_paid = %s WHERE id = %s", [price, booking.pk])
    params = {"service": service.name, "service_id": service.pk, "booking": booking.pk, "points": price}
    record_entry(member_id=member_id, kind=EntryKind.REDEEM, delta=-price, balance_after=balance, lots=lots,
                 explanation=str(WORDS[SPENT] % params)[:500], reason_code=SPENT, reason_params=params, actor=actor,
                 created_at=now)
    booking.points_paid = price
    return price


def refund(*, booking_id: int, actor, now=None) -> int:
    """Give back what a booking paid (inside the caller's transaction), once."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {BOOKING} SET points_refunded_at = %s WHERE id = %s AND points_paid > 0 "
            "AND points_refunded_at IS NULL RETURNING member_id, points_paid, service_id", [now, booking_id])
        row = cursor.fetchone()
        if row is None:
            return 0
        member_id, points, service_id = row
        lock_balances(cursor, [member_id])
        spent = PointEntry.objects.filter(member_id=member_id, reason_code=SPENT,
                                          reason_params__booking=booking_id).values_list("lots", flat=True)
        name = Service.objects.filter(pk=service_id).values_list("name", flat=True).first() or ""
        restored = restore(cursor, member_id, spent, points, now=now,
                           reason=_("Refund for the appointment %(service)s") % {"service": name})
        balance = change_balance(cursor, member_id, points, redeemed_total=-points)
        params = {"service": name, "service_id": service_id, "booking": booking_id, "points": points}
        record_entry(member_id=member_id, kind=EntryKind.REDEMPTION_CANCELLED, delta=points, balance_after=balance,
                     lots=restored, explanation=str(WORDS[REFUNDED] % params)[:500], reason_code=REFUNDED,
                     reason_params=params, actor=actor, created_at=now)
        expire_locked(cursor, [member_id], now)
    return points
