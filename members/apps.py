from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from scrm.api import scopes

        scopes.register("members", _("Members"))
        # The vocabulary is the brand's: store roles read it (and tag their own members, which is
        # members:write); defining it, merging and data-subject requests are for operators.
        scopes.register("tags", _("Tag groups and tags"), store_roles="read")
        scopes.register("attributes", _("Custom attribute definitions"), store_roles="read")
        scopes.register("merges", _("Merging duplicate members"), store_roles="none")
        scopes.register("privacy", _("Data-subject requests: export and erase members"), store_roles="none")
