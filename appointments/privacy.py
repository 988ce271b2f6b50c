"""Appointments' part of a member's data-subject export and erasure, and how bookings follow a merge.
The export lists the member's bookings and reminders. Erasure cancels the bookings still to come
(their time goes back to the store, points paid come back) and blanks what the rows say about the
person (the address of a visit at home, their note, the visit's notes); the rows stay, so the
store's figures stay true."""

from __future__ import annotations

from django.utils import timezone

from appointments.models import Booking, BookingReminder, BookingState, CancelledBy
from members.privacy_registry import ErasureSubject
from scrm.actors import SystemActor

ERASURE_ACTOR = SystemActor("appointments:erasure")


def export_appointments(member, actor) -> dict:
    bookings = list(Booking.objects.filter(member=member).order_by("starts_at", "id").values(
        "id", "service__name", "store__code", "staff__username", "starts_at", "ends_at", "state", "source",
        "address", "member_note", "notes", "points_paid", "created_at", "cancelled_at", "cancelled_by",
        "checked_in_at", "completed_at", "no_show_at"))
    reminders = list(BookingReminder.objects.filter(member=member).order_by("created_at", "id").values(
        "booking_id", "kind", "state", "text", "created_at"))
    return {"bookings": bookings, "reminders": reminders}


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction; idempotent (a second run finds nothing left to cancel or blank)."""
    from appointments.services import bookings as booking_services

    upcoming = Booking.objects.filter(member_id__in=subject.member_ids, state=BookingState.BOOKED,
                                      starts_at__gt=timezone.now()).order_by("id")
    cancelled = 0
    for booking in upcoming:
        booking_services.cancel(booking=booking, actor=ERASURE_ACTOR, by=CancelledBy.STORE)
        cancelled += 1
    blanked = Booking.objects.filter(member_id__in=subject.member_ids).exclude(
        address="", member_note="", notes="").update(address="", member_note="", notes="")
    BookingReminder.objects.filter(member_id__in=subject.member_ids).update(text="")
    return {"bookings_cancelled": cancelled, "bookings_blanked": blanked}


def merge_bookings(survivor_id: int, duplicate_id: int) -> int:
    """A duplicate's bookings and reminders move to the survivor."""
    BookingReminder.objects.filter(member_id=duplicate_id).update(member_id=survivor_id)
    return Booking.objects.filter(member_id=duplicate_id).update(member_id=survivor_id)


def register() -> None:
    from members import privacy_registry
    from members.services import merge

    privacy_registry.register_export_part("appointments", export_appointments)
    privacy_registry.register_erasure_step("appointments", erase)
    merge.register_handler(Booking, "member", merge_bookings)
