"""Everything under /api/: v1 resources, the OpenAPI schema and its docs page."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from insights.api import urls as insights_urls
from members.api import urls as member_urls
from members.io.api import urls as io_urls
from members.segments.api import urls as segment_urls
from orders.api import urls as order_urls
from points.api import urls as points_urls
from referrals.api import urls as referral_urls
from scrm.api import views
from tiers.api import urls as tier_urls

router = SimpleRouter()
router.register("regions", views.RegionViewSet, basename="region")
router.register("stores", views.StoreViewSet, basename="store")
router.register("staff", views.StaffViewSet, basename="staff")
member_urls.register(router)
segment_urls.register(router)
io_urls.register(router)
order_urls.register(router)
tier_urls.register(router)
points_urls.register(router)
referral_urls.register(router)
insights_urls.register(router)

views.ApiRootView.resources = [("me", "api:me")] + [
    (prefix, f"api:{basename}-list") for prefix, _viewset, basename in router.registry
]

app_name = "api"  # every API route is reversed as api:<name>, e.g. api:member-list
urlpatterns = [
    path("v1/", views.ApiRootView.as_view(), name="root"),
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", views.RedocView.as_view(url_name="api:schema"), name="redoc"),
]
