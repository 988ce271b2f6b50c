from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KocConfig(AppConfig):
    name = "koc"
    verbose_name = _("KOC")
