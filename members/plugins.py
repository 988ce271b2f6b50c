"""What members plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import permissions


def register() -> None:
    permissions.register("members", _("Members"))
    # The vocabulary is the brand's: store roles read it (and tag their own members, which is
    # members:write); defining it, merging and data-subject requests are for operators.
    permissions.register("tags", _("Tag groups and tags"), store_roles="read")
    permissions.register("attributes", _("Custom attribute definitions"), store_roles="read")
    permissions.register("merges", _("Merging duplicate members"), store_roles="none")
    permissions.register("privacy", _("Data-subject requests: export and erase members"), store_roles="none")
