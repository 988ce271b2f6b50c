"""Everything under /api/: v1 resources, the OpenAPI schema and its docs page.

Each installed app with an `api/urls.py` adds its resources through that module's `register(router)`,
in INSTALLED_APPS order, so the kernel imports no app built on it."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from scrm.api import views
from scrm.apps import app_modules

router = SimpleRouter()
router.register("regions", views.RegionViewSet, basename="region")
router.register("stores", views.StoreViewSet, basename="store")
router.register("staff", views.StaffViewSet, basename="staff")
for module in app_modules("api.urls", exclude=("scrm",)):
    module.register(router)

views.ApiRootView.resources = [("me", "api:me")] + [
    (prefix, f"api:{basename}-list") for prefix, _viewset, basename in router.registry
]

# The docs pages run the vendored Swagger UI and Redoc: their scripts come from this site (Swagger's
# start-up script too, served by the split view), but both style the page from inline styles and
# Redoc searches in a worker it starts from a blob.
_docs_csp = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["'self'", "blob:"]})

app_name = "api"  # every API route is reversed as api:<name>, e.g. api:member-list
urlpatterns = [
    path("v1/", views.ApiRootView.as_view(), name="root"),
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", _docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("redoc/", _docs_csp(views.RedocView.as_view(url_name="api:schema")), name="redoc"),
]
