"""Routes of the referrals API; scrm/api/urls.py calls register(router)."""

from loyalty.referrals.api import views


def register(router) -> None:
    router.register("referral-codes", views.ReferralCodeViewSet, basename="referral-code")
    router.register("referrals", views.ReferralViewSet, basename="referral")
    router.register("commission-rules", views.CommissionRuleViewSet, basename="commission-rule")
    router.register("commissions", views.CommissionViewSet, basename="commission")
