"""Screens of insights (flat names, included at the site root)."""

from django.urls import path

from insights import views

urlpatterns = [
    path("insights/", views.figures, name="insights-figures"),
    path("insights/cockpit/", views.cockpit, name="insights-cockpit"),
    path("insights/cockpit/store/", views.store_page, name="insights-store"),
    path("insights/cockpit/export/", views.cockpit_export, name="insights-cockpit-export"),
]
