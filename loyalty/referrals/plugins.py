"""What loyalty.referrals plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.orders import hooks
from loyalty.referrals import privacy, queries, tasks
from members import panels
from scrm import permissions


def register() -> None:
    from loyalty.referrals import timeline as referrals_timeline

    referrals_timeline.register()
    permissions.register("referrals", _("Referral codes and who referred whom"))
    permissions.register("commission_rules", _("Commission rules"), store_roles="read", brand_setting=True)
    permissions.register("commissions", _("Referral commissions"), store_roles="read")
    hooks.on_orders_changed(tasks.queue_sync)
    panels.register("referrals", template="referrals/_member_panel.html", context=queries.member_panel, order=30)
    privacy.register()
