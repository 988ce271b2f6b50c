"""What members.segments plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from members.segments import filters
from scrm import permissions


def register() -> None:
    filters.register()
    permissions.register("segments", _("Segments"), store_roles="write")
