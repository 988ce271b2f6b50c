"""Webhooks' part of a member's data-subject export: which integrations were sent events about the
member, counted per subscription (the events themselves are in the event log's own export part).

Erasure has nothing of its own to blank here: a delivery holds the event's id and member id, no
personal data, and the event's personal fields are scrubbed by the event log's erasure step. Merges
leave deliveries as they are: they record what was sent about whom at the time."""

from __future__ import annotations

from django.db.models import Count, Q

from webhooks.models import Delivery

MAX_SUBSCRIPTIONS = 200


def export_deliveries(member, actor) -> list[dict]:
    rows = (Delivery.objects.filter(member_id=member.pk)
            .values("subscription_id", "subscription__name", "subscription__api_key__name")
            .annotate(deliveries=Count("id"), delivered=Count("id", filter=Q(state="delivered")))
            .order_by("subscription_id")[:MAX_SUBSCRIPTIONS])
    return [{"subscription": r["subscription__name"], "integration": r["subscription__api_key__name"],
             "deliveries": r["deliveries"], "delivered": r["delivered"]} for r in rows]


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("webhook_deliveries", export_deliveries)
