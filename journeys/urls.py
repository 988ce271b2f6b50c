"""Dashboard and phone URLs of staff tasks (flat names, included at the site root)."""

from journeys.views import urlpatterns

__all__ = ["urlpatterns"]
