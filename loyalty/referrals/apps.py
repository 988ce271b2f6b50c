"""Referrals: every member's code and link, and the commissions orders carrying a code earn."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "loyalty.referrals"
    label = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        from loyalty.referrals import plugins

        plugins.register()
