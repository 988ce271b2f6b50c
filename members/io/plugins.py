"""What members.io plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from members.io import privacy
from scrm import permissions


def register() -> None:
    # Store roles import and export from the dashboard (managers only); through the API only
    # operators and API keys granted these scopes do.
    permissions.register("imports", _("Member imports"), store_roles="none")
    permissions.register("exports", _("Member exports"), store_roles="none")
    privacy.register()
