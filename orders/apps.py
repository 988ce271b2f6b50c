"""Orders from every channel (store POS, Tmall, Douyin, mini-program): the purchases tiers, points,
referral commissions and staff figures are computed from."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from members import hooks as member_hooks
        from members import panels
        from members.services import merge
        from orders import queries, services, tasks
        from orders.models import Order
        from scrm.api import scopes

        scopes.register("orders", _("Orders and refunds"))
        member_hooks.on_identities_added(tasks.queue_link)
        merge.register_handler(Order, "member", services.move_orders_on_merge)
        panels.register("orders", template="orders/_member_panel.html", context=queries.member_panel, order=20)
