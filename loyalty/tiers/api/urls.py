"""Routes of the tiers API; scrm/api/urls.py calls register(router)."""

from loyalty.tiers.api import views

MEMBER = r"members/(?P<member_id>[0-9]+)"


def register(router) -> None:
    router.register("tier-ladder", views.TierLadderViewSet, basename="tier-ladder")
    router.register("member-tiers", views.MemberTierListViewSet, basename="member-tier")
    router.register("tier-changes", views.TierChangeViewSet, basename="tier-change")
    router.register(f"{MEMBER}/tier", views.MemberTierViewSet, basename="member-tier-detail")
    router.register(f"{MEMBER}/tier-history", views.MemberTierHistoryViewSet, basename="member-tier-history")
