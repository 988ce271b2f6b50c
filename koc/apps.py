"""KOC profiles, the tier pyramid, topics, tracked posts and their reach."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KocConfig(AppConfig):
    name = "koc"
    verbose_name = _("KOC")

    def ready(self) -> None:
        from koc import plugins

        plugins.register()
