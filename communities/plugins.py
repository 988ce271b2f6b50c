"""What communities plug into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import events, permissions


def register() -> None:
    permissions.register("communities", _("Communities and their members"), store_roles="write")
    permissions.register("events", _("Events, their sign-ups and check-ins"), store_roles="write")
    events.register_type("event.checked_in", _("A member was checked in at an event (scanned, typed or ticked)"),
                         resource="events")

    from communities import privacy, timeline
    from communities.services import wecom_groups

    privacy.register()
    timeline.register()
    wecom_groups.register()  # after the connector's own handler (wecom is installed before communities)
