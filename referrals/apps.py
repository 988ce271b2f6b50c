"""Referrals: every member's code and link, and the commissions orders carrying a code earn."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        from members import panels
        from orders import hooks
        from referrals import queries, tasks
        from scrm.api import scopes

        scopes.register("referrals", _("Referral codes and who referred whom"))
        scopes.register("commission_rules", _("Commission rules"), store_roles="read")
        scopes.register("commissions", _("Referral commissions"), store_roles="read")
        hooks.on_orders_changed(tasks.queue_sync)
        panels.register("referrals", template="referrals/_member_panel.html", context=queries.member_panel, order=30)
