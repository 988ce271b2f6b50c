"""The content calendar's screens (included at the site root)."""

from journeys.calendar.views import urlpatterns

__all__ = ["urlpatterns"]
