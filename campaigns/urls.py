"""Dashboard URLs of campaigns (flat names, included at the site root)."""

from campaigns import wecom_views
from campaigns.views import urlpatterns

urlpatterns = [*urlpatterns, *wecom_views.urlpatterns]

__all__ = ["urlpatterns"]
