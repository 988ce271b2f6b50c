from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from scrm import account_views, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("", views.home, name="home"),
    path("m/", views.mobile_home, name="mobile-home"),
    path("stores/", views.StoreListView.as_view(), name="store-list"),
    path("staff/", views.StaffListView.as_view(), name="staff-list"),
    path("staff/<int:pk>/reset-password/", views.reset_staff_password, name="staff-reset-password"),
    path("staff/<int:pk>/toggle-active/", views.toggle_staff_active, name="staff-toggle-active"),
    path("staff/<int:pk>/unlock/", views.unlock_staff, name="staff-unlock"),
    path("api-keys/", views.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<int:pk>/revoke/", views.revoke_api_key, name="api-key-revoke"),
    path("", include("members.urls")),
    path("", include("members.segments.urls")),
    path("", include("members.io.urls")),
    path("", include("loyalty.orders.urls")),
    path("", include("loyalty.tiers.urls")),
    path("", include("loyalty.points.urls")),
    path("", include("loyalty.referrals.urls")),
    path("", include("wecom.urls")),
    path("", include("communities.urls")),
    path("", include("campaigns.urls")),
    path("", include("campaigns.links.urls")),
    path("", include("campaigns.replies.urls")),
    path("", include("journeys.urls")),
    path("", include("journeys.calendar.urls")),
    path("", include("appointments.urls")),
    path("", include("koc.urls")),
    path("", include("insights.urls")),
    path("", include("webhooks.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/login/code/", account_views.otp_verify, name="otp-verify"),
    path("accounts/security/", account_views.account_security, name="account-security"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("scrm.api.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = settings.SIYU_BRAND_NAME

