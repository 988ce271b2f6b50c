"""Appointments' entries on the member timeline: a booking made, a visit done (its service, who
gave it and the visit's notes), a no-show."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from appointments.models import Booking, BookingState
from members.timeline import Entry, Window
from scrm.scoping import scope

MESSAGES = {
    "booked": _("Booked %(service)s for %(at)s"),
    "visited": _("Visit: %(service)s with %(staff)s. %(notes)s"),
    "no_show": _("Did not come to %(service)s (%(at)s)"),
}


def _at(moment) -> str:
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def bookings_source(window: Window):
    rows = scope(Booking.objects.filter(member=window.member), window.reader).select_related("service")
    return [Entry(at=b.created_at, pk=b.pk, code="booked", params={"service": b.service.name, "at": _at(b.starts_at)})
            for b in window.page(rows, at="created_at", pk="id")]


def visits_source(window: Window):
    rows = scope(Booking.objects.filter(member=window.member, state=BookingState.COMPLETED,
                                        completed_at__isnull=False), window.reader).select_related("service", "staff")
    return [Entry(at=b.completed_at, pk=b.pk, code="visited",
                  params={"service": b.service.name, "staff": str(b.staff), "notes": b.notes})
            for b in window.page(rows, at="completed_at", pk="id")]


def no_shows_source(window: Window):
    rows = scope(Booking.objects.filter(member=window.member, state=BookingState.NO_SHOW, no_show_at__isnull=False),
                 window.reader).select_related("service")
    return [Entry(at=b.no_show_at, pk=b.pk, code="no_show", params={"service": b.service.name,
                                                                     "at": _at(b.starts_at)})
            for b in window.page(rows, at="no_show_at", pk="id")]


def register() -> None:
    from members import timeline

    timeline.register("appointments", bookings_source, label=_("Appointments and visits"), messages=MESSAGES,
                      name="appointments-bookings", order=65)
    timeline.register("appointments", visits_source, messages=MESSAGES, name="appointments-visits")
    timeline.register("appointments", no_shows_source, messages=MESSAGES, name="appointments-no-shows")
