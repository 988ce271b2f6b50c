"""Tiers' part of a member's data-subject export and erasure: the member's tier and its history are
kept (figures count them), the free text staff wrote on them loses the member's name, phone and ids."""

from __future__ import annotations

from loyalty.tiers.models import MemberTier, TierChange
from members.privacy_registry import ErasureSubject, scrub_text_fields


def export_tier(member, actor) -> dict | None:
    return (
        MemberTier.objects.filter(member=member)
        .values(
            "level__name",
            "earned_level__name",
            "floor_level__name",
            "floor_reason",
            "qualifying_value",
            "since",
            "downgrade_due",
            "computed_at",
        )
        .first()
    )


def export_history(member, actor) -> list[dict]:
    return list(
        TierChange.objects.filter(member=member)
        .order_by("created_at", "id")
        .values("from_name", "to_name", "reason", "qualifying_value", "note", "actor_label", "created_at")
    )


def erase(subject: ErasureSubject) -> dict:
    ids, needles = subject.member_ids, subject.needles
    return {
        "tier": scrub_text_fields(MemberTier.objects.filter(member_id__in=ids), ["floor_reason"], needles),
        "history": scrub_text_fields(TierChange.objects.filter(member_id__in=ids), ["note"], needles),
    }


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("tier", export_tier)
    privacy_registry.register_export_part("tier_history", export_history)
    privacy_registry.register_erasure_step("tiers", erase)
