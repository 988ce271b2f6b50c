"""What communities plug into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import permissions


def register() -> None:
    permissions.register("communities", _("Communities and their members"), store_roles="write")
    permissions.register("events", _("Events, their sign-ups and check-ins"), store_roles="write")

    from communities import privacy, timeline

    privacy.register()
    timeline.register()
