"""Orders from every channel (store POS, Tmall, Douyin, mini-program): the purchases tiers, points,
referral commissions and staff figures are computed from."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "loyalty.orders"
    label = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from loyalty.orders import plugins

        plugins.register()
