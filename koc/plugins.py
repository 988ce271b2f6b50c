"""What the KOC programme plugs into the registries of the apps below it (and the API scopes),
called once from its AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import events, permissions


def register() -> None:
    permissions.register("koc_creators", _("KOC creators, their applications and platform accounts"),
                         store_roles="write", store_staff="read")
    permissions.register("koc_posts", _("KOC posts and their metrics"), store_roles="write")
    permissions.register("koc_programme", _("KOC levels, benefits, topics, platform rates and settings"),
                         store_roles="read", brand_setting=True)
    events.register_type("creator.level_changed", _("A KOC creator's level moved (joined, promoted, demoted, left)"),
                         resource="koc_creators")

    from koc import panels, privacy, timeline

    privacy.register()
    timeline.register()
    panels.register()
