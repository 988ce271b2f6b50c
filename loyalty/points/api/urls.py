"""Routes of the points API; scrm/api/urls.py calls register(router)."""

from loyalty.points.api import views


def register(router) -> None:
    router.register(r"members/(?P<member_id>[0-9]+)/points", views.MemberPointsViewSet, basename="member-points")
    router.register("point-entries", views.PointEntryViewSet, basename="point-entry")
    router.register("point-lots", views.PointLotViewSet, basename="point-lot")
    router.register("redemptions", views.RedemptionViewSet, basename="redemption")
    router.register("rewards", views.RewardViewSet, basename="reward")
    router.register("points-policy", views.PointsPolicyViewSet, basename="points-policy")
