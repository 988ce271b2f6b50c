"""The project's URLs plus the import/export screens and API, as scrm/urls.py and scrm/api/urls.py
will route them once they include members.io.urls and call members.io.api.urls.register(router)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from members.io import urls as io_urls
from members.io.api import urls as io_api_urls
from scrm import urls as project_urls

router = SimpleRouter()
io_api_urls.register(router)

urlpatterns = [
    path("api/v1/", include((router.urls, "io_api"))),
    *io_urls.urlpatterns,
    *project_urls.urlpatterns,
]
