from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "members.segments"
    label = "member_segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from members.segments import plugins

        plugins.register()
