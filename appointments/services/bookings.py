"""Booking, rescheduling and cancelling an appointment, and the visit (check-in, no-show, completion).

Race-proof: a booking is one INSERT inside a savepoint; the exclusion constraint on the staff
member's held time refuses an overlapping held booking whoever commits second, and the booking is
then tried with the next free qualified staff member, or refused as `slot_taken` when none is left.
Everything a booking does (the row, the points it costs, its event) is one transaction: a refusal
at any step holds nothing. Every input problem is found before anything is written.

Retry-safe: the API's POSTs take an Idempotency-Key; the public page and other callers may pass a
`request_key` (unique on the booking), and a repeat with the same key answers the booking it made.
Changes of state are conditional UPDATEs of the booking's row, so a repeated tap (check in twice,
cancel twice) answers the booking as it is and changes nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.models import (
    HOLDS_TIME,
    Booking,
    BookingSource,
    BookingState,
    CancelledBy,
    Service,
    VisitPlace,
)
from appointments.services import access, availability, prices
from members.models import Member
from scrm import actors, events
from scrm.errors import Conflict, InvalidInput, NotInScope
from scrm.models import Store
from scrm.scoping import scope

CREATED = "booking.created"
CANCELLED = "booking.cancelled"
CHECKED_IN = "booking.checked_in"
EXCLUSION_VIOLATION = "23P01"
NOTE_MAX = 500
NOTES_MAX = 4000
CHECK_IN_EARLY = dt.timedelta(hours=2)  # a member may be checked in this long before the start


class SlotTaken(Conflict):
    code = "slot_taken"


class OutsideRule(Conflict):
    code = "outside_rule"


@dataclass(frozen=True)
class BookingResult:
    booking: Booking
    created: bool


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment, availability.zone()).strftime("%Y-%m-%d %H:%M")


def _member(member_id, actor) -> Member:
    member = scope(Member.live.filter(pk=member_id), actor).first() if isinstance(member_id, int) else None
    if member is None:
        raise NotInScope(_("No such member, or not yours to reach."), details={"member": [member_id]})
    return member


def _check_input(*, source: str, address: str, member_note: str, request_key, service: Service) -> None:
    errors = {}
    if source not in BookingSource.values:
        errors["source"] = [_("Unknown source “%(source)s”.") % {"source": source}]
    if len(member_note or "") > NOTE_MAX:
        errors["member_note"] = [_("At most %(max)d characters.") % {"max": NOTE_MAX}]
    if len(address or "") > 200:
        errors["address"] = [_("At most 200 characters.")]
    if service.place == VisitPlace.HOME and not (address or "").strip():
        errors["address"] = [_("“%(service)s” is a visit at home: give the address.") % {"service": service.name}]
    if request_key is not None and not (1 <= len(request_key) <= 64):
        errors["request_key"] = [_("Between 1 and 64 characters.")]
    if errors:
        raise InvalidInput(details=errors)


def check_start(*, service: Service, store: Store, starts_at, now: dt.datetime) -> None:
    """Refuse (400, naming starts_at) a start that is not a time, is in the past, is outside the
    service's booking window, or does not fit the store's opening hours that day."""
    if not isinstance(starts_at, dt.datetime) or timezone.is_naive(starts_at):
        raise InvalidInput(details={"starts_at": [_("A date and time with its offset, e.g. 2026-12-24T10:00+08:00.")]})
    if starts_at <= now:
        raise InvalidInput(_("%(at)s is in the past.") % {"at": _local(starts_at)},
                           details={"starts_at": [_("In the past.")]})
    earliest, latest = availability.booking_window(service, now)
    if starts_at < earliest:
        raise InvalidInput(
            _("“%(service)s” is booked at least %(minutes)d minutes ahead: the earliest start now is %(at)s.")
            % {"service": service.name, "minutes": service.min_notice_minutes, "at": _local(earliest)},
            details={"starts_at": [_("Outside the booking window (too soon).")]})
    if starts_at > latest:
        raise InvalidInput(
            _("“%(service)s” is booked at most %(days)d days ahead: the last day now is %(day)s.")
            % {"service": service.name, "days": service.max_days_ahead, "day": _local(latest)[:10]},
            details={"starts_at": [_("Outside the booking window (too far ahead).")]})
    if problem := availability.fit_problem(service=service, store=store, starts_at=starts_at):
        raise InvalidInput(problem, details={"starts_at": [problem]})


def _candidates(*, service, store, starts_at, staff_id, now, ignore_booking=None) -> list[int]:
    if staff_id is not None and not availability.qualified_staff(service, store).filter(pk=staff_id).exists():
        raise InvalidInput(details={"staff": [_("Staff member %(id)s does not provide “%(service)s” at %(store)s.")
                                              % {"id": staff_id, "service": service.name, "store": store.name}]})
    free = availability.free_staff_at(service=service, store=store, starts_at=starts_at, staff_id=staff_id, now=now,
                                      ignore_booking=ignore_booking)
    if not free:
        raise SlotTaken(_("%(at)s is no longer free for “%(service)s”: pick another time.")
                        % {"at": _local(starts_at), "service": service.name}, details={"starts_at": [_("Taken.")]})
    # The least busy that day first, so the store's day fills evenly.
    day = timezone.localtime(starts_at, availability.zone()).date()
    load = dict(Booking.objects.filter(staff_id__in=free, state__in=HOLDS_TIME, starts_at__date=day)
                .values_list("staff_id").annotate(n=Count("id")))
    return sorted(free, key=lambda sid: (load.get(sid, 0), sid))


def _is_overlap(exc: IntegrityError) -> bool:
    return getattr(exc.__cause__, "pgcode", None) == EXCLUSION_VIOLATION


def _insert(rows: dict, candidates: list[int], starts_at, service) -> Booking:
    """Insert the booking with the first candidate whose time is still free (savepoint each)."""
    for staff_id in candidates:
        try:
            with transaction.atomic():
                return Booking.objects.create(staff_id=staff_id, **rows)
        except IntegrityError as exc:
            if not _is_overlap(exc):
                raise
    raise SlotTaken(_("%(at)s was just taken for “%(service)s”: pick another time.")
                    % {"at": _local(starts_at), "service": service.name}, details={"starts_at": [_("Taken.")]})


def _iso(moment: dt.datetime) -> str:
    return timezone.localtime(moment, availability.zone()).isoformat()


def _event_data(booking: Booking, service: Service) -> dict:
    return {"booking": {"id": booking.pk, "starts_at": _iso(booking.starts_at), "source": booking.source},
            "service": {"id": service.pk, "name": service.name}, "staff": {"id": booking.staff_id},
            "booking_store": {"id": booking.store_id}}


def _existing(request_key, member: Member) -> BookingResult | None:
    if request_key is None:
        return None
    found = Booking.objects.filter(request_key=request_key).first()
    if found is None:
        return None
    if found.member_id != member.pk:
        raise Conflict(_("This request key was used for another booking."), code="request_key_reused",
                       details={"request_key": [request_key]})
    return BookingResult(found, False)


def book(*, actor, service: Service, store: Store, member_id, starts_at, source: str, staff_id: int | None = None,
         address: str = "", member_note: str = "", request_key: str | None = None,
         now: dt.datetime | None = None) -> BookingResult:
    """Book `service` at `store` for a member at `starts_at` with the given staff member or any free
    qualified one. Clear errors for every bad input; nothing held on any of them."""
    access.require_book_at(actor, store.pk)
    _check_input(source=source, address=address, member_note=member_note, request_key=request_key, service=service)
    member = _member(member_id, actor)
    if found := _existing(request_key, member):
        return found
    availability.require_offered(service, store)
    now = now or timezone.now()
    check_start(service=service, store=store, starts_at=starts_at, now=now)
    ends_at, held_from, held_until = availability.held_range(service, starts_at)
    _require_member_free(member.pk, starts_at, ends_at)
    candidates = _candidates(service=service, store=store, starts_at=starts_at, staff_id=staff_id, now=now)
    user = actors.actor_user(actor)
    rows = {"member_id": member.pk, "service_id": service.pk, "store_id": store.pk, "starts_at": starts_at,
            "ends_at": ends_at, "held_from": held_from, "held_until": held_until, "source": source,
            "address": (address or "").strip(), "member_note": (member_note or "").strip(),
            "request_key": request_key, "created_by_id": getattr(user, "pk", None),
            "created_by_label": actors.actor_label(actor), "created_at": now}
    try:
        with transaction.atomic():
            booking = _insert(rows, candidates, starts_at, service)
            prices.charge(booking=booking, service=service, actor=actor, now=now)
            events.emit(CREATED, member_id=member.pk, store_id=member.home_store_id,
                        data=_event_data(booking, service))
    except IntegrityError:  # the same request key at the same moment: the first one's booking stands
        if request_key and (found := _existing(request_key, member)):
            return found
        raise
    return BookingResult(booking, True)


def _require_member_free(member_id: int, starts_at, ends_at, *, ignore: int | None = None) -> None:
    clash = Booking.objects.filter(member_id=member_id, state__in=HOLDS_TIME, starts_at__lt=ends_at,
                                   ends_at__gt=starts_at)
    if ignore is not None:
        clash = clash.exclude(pk=ignore)
    other = clash.select_related("service").first()
    if other is not None:
        raise Conflict(_("The member already has “%(service)s” at %(at)s.")
                       % {"service": other.service.name, "at": _local(other.starts_at)}, code="member_busy",
                       details={"starts_at": [_("The member is booked then.")]})


def _locked(booking: Booking) -> Booking:
    return Booking.objects.select_for_update(of=("self",)).select_related("service", "store").get(pk=booking.pk)


def _require_before_rule(booking: Booking, now, what: str) -> None:
    limit = booking.starts_at - dt.timedelta(hours=booking.service.cancel_hours)
    if now > limit:
        raise OutsideRule(
            _("“%(service)s” can be %(what)s until %(hours)d hours before the start (%(limit)s); call the store.")
            % {"service": booking.service.name, "what": what, "hours": booking.service.cancel_hours,
               "limit": _local(limit)}, details={"booking": [booking.pk]})


def cancel(*, booking: Booking, actor, by: str = CancelledBy.STORE, now: dt.datetime | None = None) -> Booking:
    """Cancel a booking: by the member within the service's rule, by the store at any time before the
    visit. Points paid come back. Cancelling a cancelled booking answers it as it is."""
    if by not in CancelledBy.values:
        raise InvalidInput(details={"by": [_("Unknown value “%(by)s”.") % {"by": by}]})
    access.require_book_at(actor, booking.store_id)
    now = now or timezone.now()
    with transaction.atomic():
        booking = _locked(booking)
        if booking.state == BookingState.CANCELLED:
            return booking
        if booking.state != BookingState.BOOKED:
            raise Conflict(_("The booking is %(state)s and can no longer be cancelled.")
                           % {"state": booking.get_state_display()}, code="not_booked")
        if by == CancelledBy.MEMBER:
            _require_before_rule(booking, now, _("cancelled"))
        Booking.objects.filter(pk=booking.pk).update(state=BookingState.CANCELLED, cancelled_at=now, cancelled_by=by)
        prices.refund(booking_id=booking.pk, actor=actor, now=now)
        events.emit(CANCELLED, member_id=booking.member_id, store_id=_home_store(booking.member_id),
                    data={**_event_data(booking, booking.service), "cancelled_by": by})
        booking.refresh_from_db()
    return booking


def _home_store(member_id: int) -> int | None:
    return Member.objects.filter(pk=member_id).values_list("home_store_id", flat=True).first()


def reschedule(*, booking: Booking, actor, starts_at, staff_id: int | None = None, by: str = CancelledBy.STORE,
               now: dt.datetime | None = None) -> Booking:
    """Move a booking to another start (and staff member): the old one is cancelled and the new one
    made in one transaction, the points paid carried over; a refusal leaves the old booking as it was."""
    if by not in CancelledBy.values:
        raise InvalidInput(details={"by": [_("Unknown value “%(by)s”.") % {"by": by}]})
    access.require_book_at(actor, booking.store_id)
    now = now or timezone.now()
    with transaction.atomic():
        old = _locked(booking)
        if old.state != BookingState.BOOKED:
            raise Conflict(_("The booking is %(state)s and can no longer be moved.")
                           % {"state": old.get_state_display()}, code="not_booked")
        if by == CancelledBy.MEMBER:
            _require_before_rule(old, now, _("moved"))
        service, store = old.service, old.store
        availability.require_offered(service, store)
        check_start(service=service, store=store, starts_at=starts_at, now=now)
        ends_at, held_from, held_until = availability.held_range(service, starts_at)
        _require_member_free(old.member_id, starts_at, ends_at, ignore=old.pk)
        candidates = _candidates(service=service, store=store, starts_at=starts_at, staff_id=staff_id, now=now,
                                 ignore_booking=old.pk)
        Booking.objects.filter(pk=old.pk).update(state=BookingState.CANCELLED, cancelled_at=now, cancelled_by=by,
                                                 points_paid=0)
        user = actors.actor_user(actor)
        new = _insert({"member_id": old.member_id, "service_id": service.pk, "store_id": store.pk,
                       "starts_at": starts_at, "ends_at": ends_at, "held_from": held_from, "held_until": held_until,
                       "source": old.source, "address": old.address, "member_note": old.member_note,
                       "points_paid": old.points_paid, "rescheduled_from_id": old.pk,
                       "created_by_id": getattr(user, "pk", None), "created_by_label": actors.actor_label(actor),
                       "created_at": now}, candidates, starts_at, service)
        if old.points_paid:  # the ledger's entry names the booking that paid: it now names the new one
            from loyalty.points.models import PointEntry

            for entry in PointEntry.objects.filter(member_id=old.member_id, reason_code=prices.SPENT,
                                                   reason_params__booking=old.pk):
                entry.reason_params = {**entry.reason_params, "booking": new.pk}
                entry.save(update_fields=["reason_params"])
        events.emit(CANCELLED, member_id=old.member_id, store_id=_home_store(old.member_id),
                    data={**_event_data(old, service), "cancelled_by": by, "rescheduled_to": {"id": new.pk}})
        events.emit(CREATED, member_id=new.member_id, store_id=_home_store(new.member_id),
                    data={**_event_data(new, service), "rescheduled_from": {"id": old.pk}})
    return new


def check_in(*, booking: Booking, actor, now: dt.datetime | None = None) -> Booking:
    """The member arrived: from two hours before the start until the end of the visit's day."""
    access.require_book_at(actor, booking.store_id)
    now = now or timezone.now()
    with transaction.atomic():
        booking = _locked(booking)
        if booking.state in (BookingState.CHECKED_IN, BookingState.COMPLETED):
            return booking
        if booking.state != BookingState.BOOKED:
            raise Conflict(_("The booking is %(state)s: no check-in.") % {"state": booking.get_state_display()},
                           code="not_booked")
        if now < booking.starts_at - CHECK_IN_EARLY:
            raise OutsideRule(_("Check-in opens two hours before the start (%(at)s).")
                              % {"at": _local(booking.starts_at)}, details={"booking": [booking.pk]})
        Booking.objects.filter(pk=booking.pk).update(state=BookingState.CHECKED_IN, checked_in_at=now)
        events.emit(CHECKED_IN, member_id=booking.member_id, store_id=_home_store(booking.member_id),
                    data=_event_data(booking, booking.service))
        booking.refresh_from_db()
    return booking


def mark_no_show(*, booking: Booking, actor, now: dt.datetime | None = None) -> Booking:
    """The member did not come: only once the start has passed; the points paid are kept."""
    access.require_book_at(actor, booking.store_id)
    now = now or timezone.now()
    with transaction.atomic():
        booking = _locked(booking)
        if booking.state == BookingState.NO_SHOW:
            return booking
        if booking.state != BookingState.BOOKED:
            raise Conflict(_("The booking is %(state)s: it cannot be a no-show.")
                           % {"state": booking.get_state_display()}, code="not_booked")
        if now < booking.starts_at:
            raise OutsideRule(_("A no-show is recorded once the start (%(at)s) has passed.")
                              % {"at": _local(booking.starts_at)}, details={"booking": [booking.pk]})
        Booking.objects.filter(pk=booking.pk).update(state=BookingState.NO_SHOW, no_show_at=now)
        booking.refresh_from_db()
    return booking


def complete(*, booking: Booking, actor, notes: str = "", now: dt.datetime | None = None) -> Booking:
    """The visit is done: its notes kept, a follow-up task for the guide when the service asks for one
    (journeys.services.tasks, deduplicated per booking, so completing twice makes one task)."""
    if len(notes or "") > NOTES_MAX:
        raise InvalidInput(details={"notes": [_("At most %(max)d characters.") % {"max": NOTES_MAX}]})
    access.require_book_at(actor, booking.store_id)
    now = now or timezone.now()
    with transaction.atomic():
        booking = _locked(booking)
        if booking.state == BookingState.COMPLETED:
            return booking
        if booking.state not in (BookingState.BOOKED, BookingState.CHECKED_IN):
            raise Conflict(_("The booking is %(state)s: it cannot be completed.")
                           % {"state": booking.get_state_display()}, code="not_booked")
        if now < booking.starts_at - CHECK_IN_EARLY:
            raise OutsideRule(_("The visit starts at %(at)s: it is completed after it.")
                              % {"at": _local(booking.starts_at)}, details={"booking": [booking.pk]})
        Booking.objects.filter(pk=booking.pk).update(
            state=BookingState.COMPLETED, completed_at=now, checked_in_at=booking.checked_in_at or now,
            notes=(notes or booking.notes).strip())
        booking.refresh_from_db()
        _follow_up(booking)
    return booking


def _follow_up(booking: Booking) -> None:
    from journeys.models import TaskKind
    from journeys.services.tasks import TaskRow, create_tasks
    from scrm.actors import SystemActor

    service = booking.service
    if not service.follow_up_days:
        return
    member = Member.objects.filter(pk=booking.member_id).values("home_store_id", "owner_id").first()
    if member is None or member["home_store_id"] != booking.store_id:
        return  # tasks belong to the member's own store; a visit elsewhere leaves it to their guide there
    title = service.follow_up_text or _("Follow up on “%(service)s”") % {"service": service.name}
    create_tasks(rows=[TaskRow(
        kind=TaskKind.CUSTOM, store_id=booking.store_id, member_id=booking.member_id,
        due_at=booking.completed_at + dt.timedelta(days=service.follow_up_days),
        title=title[:120], message=_("After “%(service)s” on %(day)s.") % {
            "service": service.name, "day": _local(booking.starts_at)[:10]},
        dedupe_key=f"appointment:{booking.pk}:follow_up",
    )], actor=SystemActor("appointments:follow-up"))
