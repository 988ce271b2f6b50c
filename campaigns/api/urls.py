"""Routes of the campaigns API (/api/v1/campaigns/, /api/v1/group-campaigns/, /api/v1/outbox/,
/api/v1/send-policy/current/, /api/v1/send-policy/seasons/); scrm/api/urls.py calls register(router)."""

from campaigns.api import editing, images, policy, seasons, views, wecom


def register(router) -> None:
    router.register("campaigns", views.CampaignViewSet, basename="campaign")
    router.register("outbox", views.OutboxViewSet, basename="outbox")
    router.register("campaign-images", images.CampaignImageViewSet, basename="campaign-image")
    router.register(r"campaigns/(?P<campaign_id>[0-9]+)/wecom-tasks", wecom.CampaignWecomTaskViewSet,
                    basename="campaign-wecom-task")
    from campaigns.api import group_campaigns, group_messages

    router.register("group-campaigns", group_campaigns.GroupCampaignViewSet, basename="group-campaign")
    router.register(r"campaigns/(?P<campaign_id>[0-9]+)/group-deliveries",
                    group_messages.CampaignGroupDeliveryViewSet, basename="campaign-group-delivery")
    router.register(r"campaigns/(?P<campaign_id>[0-9]+)/test-sends", editing.CampaignTestSendViewSet,
                    basename="campaign-test-send")
    policy.register(router)
    seasons.register(router)
