"""The WeCom connector: keeps the member pool in step with the brand's Enterprise WeChat corp
(external contacts, follow relations, corp tags, callbacks, channel codes, handovers)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WecomConfig(AppConfig):
    name = "wecom"
    verbose_name = _("WeCom")

    def ready(self) -> None:
        from wecom import plugins

        plugins.register()
