"""Figures across orders, tiers and points: RFM per member, repurchase, order value, GMV share."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from insights import queries, segments, tasks
        from orders import hooks
        from scrm import overview
        from scrm.api import scopes

        scopes.register("insights", _("Figures: sales, members, RFM, tiers, points"), store_roles="read")
        segments.register()
        hooks.on_orders_changed(tasks.queue_rescore)
        overview.register("sales", template="insights/_overview.html", context=queries.overview, order=10)
        overview.register("my_sales", template="insights/_today.html", context=queries.my_sales, page="today")
