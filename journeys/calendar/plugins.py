"""What the content calendar plugs into the registries of the apps below it, called once from its
AppConfig.ready(): its API scopes, its event types, and the phone's Today section of the posts a
staff member should publish today.

A planned post is about the brand's staff and corp tags, never about a member: the calendar keeps
no personal data of members, so it adds nothing to a member's export, erasure or timeline."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import events, overview, permissions


def register() -> None:
    permissions.register("calendar", _("Content calendar: planned Moments and customer-group posts"),
                         store_roles="write", store_staff="read")
    events.register_type("content_post.state_changed",
                         _("A planned post was scheduled, handed to WeCom, created there, failed or cancelled"),
                         resource="calendar")
    events.register_type("content_post.staff_posted", _("A staff member published a planned post in WeCom"),
                         resource="calendar")

    from journeys.calendar.queries import today_section

    overview.register("calendar_today", template="content_calendar/_today.html", context=today_section, order=4,
                      page="today")
