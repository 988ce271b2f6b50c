"""Dashboard URLs of campaigns (flat names, included at the site root)."""

from campaigns import edit_views, season_views, wecom_views
from campaigns.views import urlpatterns

urlpatterns = [*urlpatterns, *edit_views.urlpatterns, *wecom_views.urlpatterns, *season_views.urlpatterns]

__all__ = ["urlpatterns"]
