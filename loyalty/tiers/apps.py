"""Membership tiers: an operator-defined ladder by net spend (or points) over a rolling window."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TiersConfig(AppConfig):
    name = "loyalty.tiers"
    label = "tiers"
    verbose_name = _("Membership tiers")

    def ready(self) -> None:
        from loyalty.tiers import plugins

        plugins.register()
