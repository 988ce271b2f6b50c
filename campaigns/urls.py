"""Dashboard URLs of campaigns (flat names, included at the site root)."""

from campaigns import attachment_views, edit_views, group_views, season_views, wecom_views
from campaigns.views import urlpatterns

urlpatterns = [*urlpatterns, *attachment_views.urlpatterns,
               *edit_views.urlpatterns, *wecom_views.urlpatterns, *season_views.urlpatterns,
               *group_views.urlpatterns]

__all__ = ["urlpatterns"]
