"""Campaigns' part of a member's data-subject export and erasure. The export lists the member's
deliveries and the outbox messages sent to them. Erasure blanks the outbox messages' text and
address and the deliveries' provider answers; the deliveries themselves stay (who was targeted,
suppressed or sent, without personal text), so the campaign's counts and holdout stay true."""

from __future__ import annotations

from campaigns.models import Delivery, OutboxMessage
from members.privacy_registry import ErasureSubject


def export_campaigns(member, actor) -> dict:
    deliveries = list(
        Delivery.objects.filter(member=member).order_by("created_at", "id")
        .values("campaign_id", "campaign__name", "campaign__channel", "state", "reason", "attempts", "created_at",
                "sent_at")
    )
    messages = list(
        OutboxMessage.objects.filter(member=member).order_by("id")
        .values("campaign_id", "address", "text", "created_at")
    )
    return {"deliveries": deliveries, "outbox": messages}


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction; idempotent (a second run finds nothing left to blank)."""
    outbox = (
        OutboxMessage.objects.filter(member_id__in=subject.member_ids).exclude(text="", address="")
        .update(text="", address="")
    )
    deliveries = (
        Delivery.objects.filter(member_id__in=subject.member_ids).exclude(error="", provider_message_id="")
        .update(error="", provider_message_id="")
    )
    return {"outbox_messages": outbox, "deliveries": deliveries}


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("campaigns", export_campaigns)
    privacy_registry.register_erasure_step("campaigns", erase)
