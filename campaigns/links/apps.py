from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LinksConfig(AppConfig):
    name = "campaigns.links"
    label = "links"
    verbose_name = _("Campaign links")

    def ready(self) -> None:
        from campaigns.links import plugins

        plugins.register()
