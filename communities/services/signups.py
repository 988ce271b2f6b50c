"""Sign-ups, the waitlist and its offers.

Seats are counted on the event's row. A sign-up takes a seat with one conditional UPDATE
(`seats_taken = seats_taken + 1 ... WHERE seats_taken < capacity`); when none is left it takes the
next waitlist position with another (`waitlist_seq + 1 ... WHERE seats_taken >= capacity`), and
tries again in the rare case a seat freed between the two. Both lock the event's row until the
sign-up commits, so concurrent sign-ups fill exactly `capacity` seats and queue the rest in the
order they took the lock; the CHECK seats_taken <= capacity stands behind it.

Every change that frees a seat (a cancellation, a lapsed offer, a larger capacity) locks the same
row first and offers the free seats to the waitlist in position order in the same transaction
(`fill_free_seats`): a free seat never sits beside a queue, so a newcomer cannot jump it. An
offer holds its seat for the event's `offer_minutes` (never past the start); the periodic
`expire_offers` lapses unanswered ones and offers their seats to the next in line. The member
offered a seat is told: a seat_offered notice (EventReminder) is written in the statement that
offers it, and handed to the campaigns' engine like the reminders (communities.services.reminders)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import (
    ACTIVE,
    HOLDS_SEAT,
    CancelledBy,
    Event,
    EventReminder,
    EventStatus,
    SignUp,
    SignUpSource,
    SignUpState,
)
from communities.services import access, prices
from members.models import Member
from scrm import permissions
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.scoping import scope

EVENT = Event._meta.db_table
SIGNUP = SignUp._meta.db_table
REMINDER = EventReminder._meta.db_table
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
EXPIRY_BATCH = 500


class SignUpClosed(Conflict):
    code = "signup_closed"


@dataclass(frozen=True)
class SignUpResult:
    signup: SignUp
    created: bool


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _window_problem(event: Event, now) -> str | None:
    if event.status != EventStatus.OPEN:
        return _("The event is cancelled.")
    if event.signup_opens_at and now < event.signup_opens_at:
        return _("Sign-up opens at %(at)s.") % {"at": _local(event.signup_opens_at)}
    closes = event.signup_closes_at or event.starts_at
    if now >= closes:
        return _("Sign-up closed at %(at)s.") % {"at": _local(closes)}
    return None


def _take_place(cursor, event_id: int) -> tuple[str, int | None]:
    """A seat (confirmed, None) or the next waitlist position (waitlisted, n), under the event's row lock."""
    while True:
        cursor.execute(
            f"UPDATE {EVENT} SET seats_taken = seats_taken + 1 "
            f"WHERE id = %s AND status = 'open' AND seats_taken < capacity RETURNING id", [event_id])
        if cursor.fetchone():
            return SignUpState.CONFIRMED, None
        cursor.execute(
            f"UPDATE {EVENT} SET waitlist_seq = waitlist_seq + 1 "
            f"WHERE id = %s AND status = 'open' AND seats_taken >= capacity RETURNING waitlist_seq", [event_id])
        row = cursor.fetchone()
        if row:
            return SignUpState.WAITLISTED, row[0]
        cursor.execute(f"SELECT status FROM {EVENT} WHERE id = %s", [event_id])
        if cursor.fetchone()[0] != EventStatus.OPEN:
            raise SignUpClosed(_("The event is cancelled."), details={"event": [event_id]})
        # a seat freed between the two statements: take it


def sign_up(*, event: Event, member_id, actor, source: str = SignUpSource.MEMBER) -> SignUpResult:
    """Sign a member (one the actor reaches) up for an event: a seat if one is free, else the next
    place on the waitlist. Signing up again answers the active sign-up (created False)."""
    if not permissions.has_scope(actor, "events:write"):
        raise Forbidden(permissions.refusal(actor, "events"), details={"scope": ["events:write"]})
    if source not in SignUpSource.values:
        raise InvalidInput(details={"source": [_("Unknown source “%(source)s”.") % {"source": source}]})
    member = scope(Member.live.filter(pk=member_id), actor).first() if isinstance(member_id, int) else None
    if member is None:
        raise NotInScope(_("No such member, or not yours to reach."), details={"member": [member_id]})
    existing = SignUp.objects.filter(event=event, member=member, state__in=ACTIVE).first()
    if existing is not None:
        return SignUpResult(existing, False)
    event.refresh_from_db(fields=["status", "signup_opens_at", "signup_closes_at", "starts_at", "points_price",
                                  "title"])
    now = timezone.now()
    if problem := _window_problem(event, now):
        raise SignUpClosed(problem, details={"event": [event.pk]})
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            state, position = _take_place(cursor, event.pk)
            signup = SignUp.objects.create(
                event_id=event.pk, member=member, store_id=event.store_id, state=state, position=position,
                code=new_code(), source=source, created_at=now,
                confirmed_at=now if state == SignUpState.CONFIRMED else None,
            )
            if state == SignUpState.CONFIRMED:  # a seat costs its price now; a place in line costs nothing yet
                prices.charge(signup=signup, event=event, actor=actor, now=now)
            else:
                prices.require_balance(event=event, member_id=member.pk)
    except IntegrityError:  # the same member signed up at the same moment: theirs stands, ours is undone
        found = SignUp.objects.filter(event=event, member=member, state__in=ACTIVE).first()
        if found is None:
            raise
        return SignUpResult(found, False)
    return SignUpResult(signup, True)


def _lock_event(cursor, event_id: int) -> None:
    cursor.execute(f"SELECT id FROM {EVENT} WHERE id = %s FOR UPDATE", [event_id])


def fill_free_seats(event_id: int, *, now=None) -> int:
    """Offer the event's free seats to the waitlist in position order (inside a transaction; the
    caller may already hold the event's row). Nothing is offered once the event has started or
    when it is cancelled. Returns how many were offered."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        _lock_event(cursor, event_id)
        cursor.execute(
            f"""WITH e AS (
                    SELECT id, capacity - seats_taken AS free, starts_at, offer_minutes FROM {EVENT}
                    WHERE id = %(event)s AND status = 'open' AND starts_at > %(now)s),
                nxt AS (
                    SELECT s.id FROM {SIGNUP} s, e
                    WHERE s.event_id = e.id AND s.state = 'waitlisted'
                    ORDER BY s.position LIMIT (SELECT GREATEST(free, 0) FROM e)),
                offered AS (
                    UPDATE {SIGNUP} s SET state = 'offered', offered_at = %(now)s,
                        offer_expires_at = LEAST(%(now)s + make_interval(mins => e.offer_minutes), e.starts_at)
                    FROM nxt, e WHERE s.id = nxt.id
                    RETURNING s.id, s.event_id, s.member_id, s.store_id, s.code, s.offer_expires_at),
                told AS (
                    INSERT INTO {REMINDER} (signup_id, event_id, member_id, store_id, kind, text, created_at)
                    SELECT o.id, o.event_id, o.member_id, o.store_id, 'seat_offered',
                           left(format(%(offer)s, ev.title,
                                       to_char(ev.starts_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI'), ev.place,
                                       to_char(o.offer_expires_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI'),
                                       o.code), 500),
                           %(now)s
                    FROM offered o JOIN {EVENT} ev ON ev.id = o.event_id
                    ON CONFLICT (signup_id, kind) DO NOTHING)
            UPDATE {EVENT} SET seats_taken = seats_taken + (SELECT count(*) FROM offered)
            WHERE id = %(event)s RETURNING (SELECT count(*) FROM offered)""",
            {"event": event_id, "now": now, "tz": settings.TIME_ZONE,
             # Placeholders: 1 the event's title, 2 when it starts, 3 where, 4 confirm by, 5 the ticket code.
             "offer": _("A seat at %1$s (%2$s, %3$s) is free for you: confirm by %4$s to take it. "
                        "Your ticket: %5$s")},
        )
        row = cursor.fetchone()
        return row[0] if row else 0


def _release(cursor, event_id: int, seats: int) -> None:
    if seats:
        cursor.execute(f"UPDATE {EVENT} SET seats_taken = seats_taken - %s WHERE id = %s", [seats, event_id])


def _signup_for_update(signup: SignUp) -> SignUp:
    with connection.cursor() as cursor:
        _lock_event(cursor, signup.event_id)  # every change of a sign-up's state locks its event first
    return SignUp.objects.select_for_update(of=("self",)).select_related("event", "event__community").get(pk=signup.pk)


@transaction.atomic
def cancel(*, signup: SignUp, actor, by: str = CancelledBy.ORGANISER) -> SignUp:
    """Cancel a sign-up (by the member, or by the organiser who manages the event). A seat it held
    goes to the first on the waitlist at once. Points paid come back when the organiser cancels, or
    when the member does before the event starts."""
    if by not in CancelledBy.values:
        raise InvalidInput(details={"by": [_("Unknown value “%(by)s”.") % {"by": by}]})
    if not permissions.has_scope(actor, "events:write"):
        raise Forbidden(permissions.refusal(actor, "events"), details={"scope": ["events:write"]})
    signup = _signup_for_update(signup)
    if by == CancelledBy.ORGANISER:
        access.require_manage_event(actor, signup.event)
    if signup.state in (SignUpState.CANCELLED, SignUpState.EXPIRED):
        return signup
    if signup.state == SignUpState.ATTENDED:
        raise Conflict(_("The member has already been checked in."), code="already_attended")
    held = signup.state in HOLDS_SEAT
    now = timezone.now()
    SignUp.objects.filter(pk=signup.pk).update(state=SignUpState.CANCELLED, cancelled_at=now,
                                               cancelled_by=by, offer_expires_at=None)
    if by == CancelledBy.ORGANISER or now < signup.event.starts_at:
        prices.refund(signup_id=signup.pk, actor=actor, now=now)
    if held:
        with connection.cursor() as cursor:
            _release(cursor, signup.event_id, 1)
        fill_free_seats(signup.event_id)
    signup.refresh_from_db()
    return signup


def confirm_offer(*, signup: SignUp, actor) -> SignUp:
    """The member takes the seat offered to them, paying the event's price now. A lapsed offer is
    refused, and its seat goes on to the next in line (that part commits); a balance too short
    is refused and the offer stands until it lapses."""
    if not permissions.has_scope(actor, "events:write"):
        raise Forbidden(permissions.refusal(actor, "events"), details={"scope": ["events:write"]})
    now = timezone.now()
    with transaction.atomic():
        signup = _signup_for_update(signup)
        if signup.state == SignUpState.CONFIRMED:
            return signup
        if signup.state != SignUpState.OFFERED:
            raise Conflict(_("No seat is offered to this sign-up (it is %(state)s).")
                           % {"state": signup.get_state_display()}, code="no_offer")
        if signup.offer_expires_at > now:
            SignUp.objects.filter(pk=signup.pk).update(state=SignUpState.CONFIRMED, confirmed_at=now,
                                                       offer_expires_at=None)
            prices.charge(signup=signup, event=signup.event, actor=actor, now=now)
            signup.refresh_from_db()
            return signup
        _lapse(signup.event_id, now)
    raise Conflict(_("The offer lapsed at %(at)s; the seat went to the next in line.")
                   % {"at": timezone.localtime(signup.offer_expires_at).strftime("%Y-%m-%d %H:%M")},
                   code="offer_lapsed")


def _lapse(event_id: int, now) -> int:
    """Lapse the event's offers due by `now` and offer their seats on (event row locked inside)."""
    with connection.cursor() as cursor:
        _lock_event(cursor, event_id)
        cursor.execute(
            f"""UPDATE {SIGNUP} SET state = 'expired' WHERE event_id = %s AND state = 'offered'
                AND offer_expires_at <= %s""", [event_id, now])
        lapsed = cursor.rowcount
        _release(cursor, event_id, lapsed)
    if lapsed:
        fill_free_seats(event_id, now=now)
    return lapsed


def expire_offers(*, now=None, batch: int = EXPIRY_BATCH) -> int:
    """Lapse offers not confirmed in time, an event at a time, and offer their seats to the next in
    line. Safe on several workers at once (each event's row is locked while it is settled)."""
    now = now or timezone.now()
    event_ids = list(
        SignUp.objects.filter(state=SignUpState.OFFERED, offer_expires_at__lte=now)
        .order_by("event_id").values_list("event_id", flat=True).distinct()[:batch]
    )
    total = 0
    for event_id in event_ids:
        with transaction.atomic():
            total += _lapse(event_id, now)
    return total
