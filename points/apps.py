"""Points: earn lots, expiry, redemption oldest lot first, and the rewards catalogue."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PointsConfig(AppConfig):
    name = "points"
    verbose_name = _("Points and rewards")

    def ready(self) -> None:
        from members import panels
        from orders import hooks
        from points import integration
        from scrm.api import scopes

        scopes.register("points", _("Member points, ledger and redemptions"), store_roles="write")
        scopes.register("rewards", _("Rewards catalogue"), store_roles="read")
        scopes.register("point_adjustments", _("Manual points adjustments"), store_roles="none")
        hooks.on_orders_changed(integration.queue_sync)
        panels.register("points", template="points/_member_panel.html", context=integration.panel_context, order=15)
        integration.register_tier_basis()
        integration.register_segment_filter()
