"""What appointments plug into the registries of the apps below it, called once from its
AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import events, permissions


def register() -> None:
    permissions.register("appointments", _("Store services, availability and bookings"), store_roles="write")
    events.register_type("booking.created", _("A member booked a service (from a link, by their guide or the API)"),
                         resource="appointments")
    events.register_type("booking.cancelled", _("A booking was cancelled or moved to another time"),
                         resource="appointments")
    events.register_type("booking.checked_in", _("A member with a booking arrived at the store"),
                         resource="appointments")

    from appointments import privacy, timeline
    from appointments.services import prices

    prices.register_reasons()
    privacy.register()
    timeline.register()

    from appointments import queries
    from members import panels
    from scrm import overview

    panels.register("appointments", template="appointments/_member_panel.html", context=queries.member_panel,
                    order=35)
    overview.register("my_appointments", template="appointments/_today.html", context=queries.today_section,
                      order=4, page="today")
