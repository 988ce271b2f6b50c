"""Membership tiers: an operator-defined ladder by net spend (or points) over a rolling window."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TiersConfig(AppConfig):
    name = "tiers"
    verbose_name = _("Membership tiers")

    def ready(self) -> None:
        from members import panels
        from orders import hooks
        from scrm.api import scopes
        from tiers import queries, segments, tasks

        scopes.register("tiers", _("Tier ladder, member tiers and their history"), store_roles="read")
        # Floors are set by operators and by managers for their own store's members (the service
        # refuses clerks); store roles therefore get write here.
        scopes.register("tier_floors", _("Manual tier floors"), store_roles="write")
        hooks.on_orders_changed(tasks.queue_after_orders_changed)
        panels.register("tier", template="tiers/_member_panel.html", context=queries.member_panel, order=10)
        segments.register()
