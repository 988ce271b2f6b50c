from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MemberIoConfig(AppConfig):
    name = "members.io"
    label = "member_io"
    verbose_name = _("Member import and export")

    def ready(self) -> None:
        from members.io import plugins

        plugins.register()
