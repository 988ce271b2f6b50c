"""Routes of the campaigns API (/api/v1/campaigns/, /api/v1/outbox/,
/api/v1/send-policy/current/); scrm/api/urls.py calls register(router)."""

from campaigns.api import policy, views


def register(router) -> None:
    router.register("campaigns", views.CampaignViewSet, basename="campaign")
    router.register("outbox", views.OutboxViewSet, basename="outbox")
    policy.register(router)
