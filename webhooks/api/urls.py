"""Routes of the webhooks API under /api/v1/webhooks/ (subscriptions and their actions, event types,
the replay read of the event log); scrm/api/urls.py calls register(router)."""

from webhooks.api import views


def register(router) -> None:
    router.register("webhooks/subscriptions", views.SubscriptionViewSet, basename="webhook-subscription")
    router.register("webhooks/event-types", views.EventTypeViewSet, basename="webhook-event-type")
    router.register("webhooks/events", views.EventLogViewSet, basename="webhook-event")
