"""Screens of points."""

from django.urls import path

from loyalty.points import views

urlpatterns = [
    path("points/rewards/", views.RewardListView.as_view(), name="reward-list"),
    path("points/rewards/new/", views.reward_edit, name="reward-create"),
    path("points/rewards/<int:pk>/", views.reward_edit, name="reward-edit"),
    path("points/policy/", views.policy_edit, name="points-policy"),
    path("points/redemptions/", views.RedemptionListView.as_view(), name="redemption-list"),
    path("members/<int:pk>/points/", views.MemberPointsView.as_view(), name="member-points"),
    path("members/<int:pk>/points/redeem/", views.member_redeem, name="member-points-redeem"),
    path("members/<int:pk>/points/adjust/", views.member_adjust, name="member-points-adjust"),
    path(
        "members/<int:pk>/points/redemptions/<int:redemption_id>/cancel/",
        views.member_cancel_redemption,
        name="member-points-cancel",
    ),
]
