"""The project's URLs plus the segments API, as scrm/api/urls.py will route it once it calls
members.segments.api.urls.register(router)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from members.segments.api import urls as segment_urls
from scrm import urls as project_urls

router = SimpleRouter()
segment_urls.register(router)

urlpatterns = [path("api/v1/", include((router.urls, "segments_api"))), *project_urls.urlpatterns]
