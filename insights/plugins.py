"""What insights plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from insights import privacy, queries, segments, tasks
from insights.cockpit import engagement as cockpit_engagement
from insights.cockpit import members as cockpit_members
from insights.cockpit import sales as cockpit_sales
from insights.cockpit import store as cockpit_store
from loyalty.orders import hooks
from scrm import overview, permissions


def register() -> None:
    permissions.register(
        "insights", _("Figures: sales, members, RFM, tiers, points"), store_roles="read", store_staff="none"
    )
    segments.register()
    privacy.register()
    cockpit_members.register()
    cockpit_sales.register()
    cockpit_engagement.register()
    cockpit_store.register()
    hooks.on_orders_changed(tasks.queue_rescore)
    overview.register("sales", template="insights/_overview.html", context=queries.overview, order=10)
    overview.register("my_sales", template="insights/_today.html", context=queries.my_sales, page="today")
