"""What loyalty.orders plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.orders import privacy, queries, services, tasks
from loyalty.orders.models import Order
from members import hooks as member_hooks
from members import panels
from members.services import merge
from scrm import permissions


def register() -> None:
    from loyalty.orders import timeline as orders_timeline

    orders_timeline.register()
    permissions.register("orders", _("Orders and refunds"))
    member_hooks.on_identities_added(tasks.queue_link)
    merge.register_handler(Order, "member", services.move_orders_on_merge)
    panels.register("orders", template="orders/_member_panel.html", context=queries.member_panel, order=20)
    privacy.register()
