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
    from journeys.queries import member_panel, today_section
    from members import panels
    from scrm import events, overview

    events.register_type("journey.entered", _("A member entered a journey"), resource="journeys")
    events.register_type("journey.exited", _("A member left a journey (done, goal met, exit step, ended)"),
                         resource="journeys")
    privacy.register()
    timeline.register()
    # The member's open tasks on the member page and the phone's card, which is also the WeCom sidebar's.
    panels.register("tasks", template="journeys/_member_panel.html", context=member_panel, order=5)
    overview.register("my_tasks", template="journeys/_today.html", context=today_section, order=3, page="today")
