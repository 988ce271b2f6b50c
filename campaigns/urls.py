"""Dashboard URLs of campaigns (flat names, included at the site root)."""

from campaigns.views import urlpatterns

__all__ = ["urlpatterns"]
