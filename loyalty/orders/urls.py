"""Screens of this app."""

from django.urls import path

from loyalty.orders import views

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="order-list"),
    path("orders/import/", views.import_orders, name="order-import"),
    path("orders/import/template.csv", views.import_template, name="order-import-template"),
    path("orders/import/<int:pk>/", views.import_job, name="order-import-job"),
    path("orders/import/<int:pk>/commit/", views.commit_import, name="order-import-commit"),
    path("orders/attribution/", views.attribution_policy, name="order-attribution"),
    path("orders/<int:pk>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<int:pk>/refund/", views.refund_order, name="order-refund"),
]
