"""Figures across orders, tiers and points: RFM per member, repurchase, order value, GMV share."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from insights import plugins

        plugins.register()
