"""Points: earn lots, expiry, redemption oldest lot first, and the rewards catalogue."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PointsConfig(AppConfig):
    name = "loyalty.points"
    label = "points"
    verbose_name = _("Points and rewards")

    def ready(self) -> None:
        from loyalty.points import plugins

        plugins.register()
