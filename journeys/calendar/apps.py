from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContentCalendarConfig(AppConfig):
    name = "journeys.calendar"
    label = "content_calendar"
    verbose_name = _("Content calendar")

    def ready(self) -> None:
        from journeys.calendar import plugins

        plugins.register()
