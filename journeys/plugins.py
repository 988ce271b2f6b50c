"""What journeys plug into the registries of the apps below it (and the API scopes), called once from
its AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import permissions


def register() -> None:
    permissions.register("tasks", _("Staff tasks"), store_roles="write")
    # Store managers write their store's journeys; clerks read them.
    permissions.register("journeys", _("Journeys"), store_roles="write", store_staff="read")
    permissions.register("task_settings", _("Task settings: repurchase cycles and the task policy"),
                         store_roles="read", brand_setting=True)

    from journeys import privacy, timeline
    from journeys.queries import today_section
    from scrm import events, overview

    events.register_type("journey.entered", _("A member entered a journey"), resource="journeys")
    events.register_type("journey.exited", _("A member left a journey (done, goal met, exit step, ended)"),
                         resource="journeys")
    privacy.register()
    timeline.register()
    overview.register("my_tasks", template="journeys/_today.html", context=today_section, order=3, page="today")
