"""Dashboard and phone routes of the KOC programme (flat names, included at the site root)."""

from koc.views import urlpatterns

__all__ = ["urlpatterns"]
