from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RepliesConfig(AppConfig):
    name = "campaigns.replies"
    label = "replies"
    verbose_name = _("Campaign replies")

    def ready(self) -> None:
        from campaigns.replies import plugins

        plugins.register()
