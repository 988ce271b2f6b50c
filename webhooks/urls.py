"""Dashboard URLs of webhooks (flat names, included at the site root)."""

from webhooks.views import urlpatterns

__all__ = ["urlpatterns"]
