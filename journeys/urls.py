"""Dashboard and phone URLs of staff tasks (flat names, included at the site root)."""

from journeys import task_settings_views
from journeys.views import urlpatterns

urlpatterns = [*urlpatterns, *task_settings_views.urlpatterns]

__all__ = ["urlpatterns"]
