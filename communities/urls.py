"""Dashboard URLs of communities (flat names, included at the site root)."""

from communities.views import urlpatterns

__all__ = ["urlpatterns"]
