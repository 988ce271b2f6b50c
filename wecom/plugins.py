"""What the WeCom connector plugs into the registries of the apps below it (and the API scopes),
called once from its AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import permissions


def register() -> None:
    from wecom import hooks, panels, privacy, timeline

    permissions.register("wecom", _("WeCom connection, sync runs and callback events"), store_roles="none")
    permissions.register(
        "wecom_channel_codes", _("WeCom channel codes"), store_roles="write", store_staff="none"
    )
    permissions.register("wecom_handovers", _("WeCom customer handovers"), store_roles="write", store_staff="none")
    permissions.register("wecom_groups", _("WeCom customer groups"), store_roles="read")
    privacy.register()
    timeline.register()
    panels.register()
    hooks.register()
    from wecom.services import events as wecom_events
    from wecom.services import handover

    wecom_events.register_handler("change_external_contact", "transfer_fail", handover.on_transfer_fail)
    from wecom.services import contact_events

    contact_events.register()
    from wecom.services import groups

    groups.register()
