from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MemberIoConfig(AppConfig):
    name = "members.io"
    label = "member_io"
    verbose_name = _("Member import and export")

    def ready(self) -> None:
        from scrm.api import scopes

        # Store roles import and export from the dashboard (managers only); through the API only
        # operators and API keys granted these scopes do.
        scopes.register("imports", _("Member imports"), store_roles="none")
        scopes.register("exports", _("Member exports"), store_roles="none")
