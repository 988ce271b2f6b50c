"""Screens of referrals (flat names, included at the site root)."""

from django.urls import path

from loyalty.referrals import views

urlpatterns = [
    path("r/<str:code>", views.landing, name="referral-landing"),
    path("members/<int:pk>/referral-code/", views.create_code, name="referral-code-create"),
    path("referrals/rules/", views.CommissionRuleListView.as_view(), name="commission-rule-list"),
    path("referrals/rules/new/", views.rule_create, name="commission-rule-create"),
    path("referrals/rules/<int:pk>/", views.rule_edit, name="commission-rule-edit"),
    path("referrals/commissions/", views.CommissionListView.as_view(), name="commission-list"),
    path("referrals/commissions/mark-paid/", views.mark_paid, name="commission-mark-paid"),
]
