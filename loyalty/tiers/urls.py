"""Screens of tiers."""

from django.urls import path

from loyalty.tiers import views

urlpatterns = [
    path("tiers/", views.TierLadderView.as_view(), name="tier-ladder"),
    path("tiers/edit/", views.TierLadderEditView.as_view(), name="tier-ladder-edit"),
    path("tiers/distribution/", views.TierDistributionView.as_view(), name="tier-distribution"),
    path("members/<int:pk>/tier/floor/", views.set_floor, name="member-tier-floor"),
]
