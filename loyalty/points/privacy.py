"""Points' part of a member's data-subject export and erasure. The ledger, the lots and the
redemptions are kept (they balance the points the brand owes); what staff typed about the member in
their free text (a reason, a note, an explanation) loses the member's name, phone and ids."""

from __future__ import annotations

from loyalty.points.models import MemberPoints, PointEntry, PointLot, Redemption
from members.privacy_registry import ErasureSubject, scrub_json_fields, scrub_text_fields


def export_balance(member, actor) -> dict | None:
    return MemberPoints.objects.filter(member=member).values().first()


def export_ledger(member, actor) -> list[dict]:
    return list(
        PointEntry.objects.filter(member=member)
        .order_by("created_at", "id")
        .values(
            "kind",
            "delta",
            "balance_after",
            "order_id",
            "redemption_id",
            "explanation",
            "reason_code",
            "reason_params",
            "actor_label",
            "created_at",
        )
    )


def export_lots(member, actor) -> list[dict]:
    return list(
        PointLot.objects.filter(member=member)
        .order_by("earned_at", "id")
        .values(
            "source", "order_id", "points", "remaining", "expired", "clawed_back", "reason", "earned_at", "expires_at"
        )
    )


def export_redemptions(member, actor) -> list[dict]:
    return list(
        Redemption.objects.filter(member=member)
        .order_by("created_at", "id")
        .values("reward__name", "points", "status", "store__code", "note", "created_at", "cancel_reason")
    )


def erase(subject: ErasureSubject) -> dict:
    ids, needles = subject.member_ids, subject.needles
    return {
        "lots": scrub_text_fields(PointLot.objects.filter(member_id__in=ids), ["reason"], needles),
        "entries": scrub_text_fields(PointEntry.objects.filter(member_id__in=ids), ["explanation"], needles)
        + scrub_json_fields(PointEntry.objects.filter(member_id__in=ids), ["reason_params"], needles),
        "redemptions": scrub_text_fields(
            Redemption.objects.filter(member_id__in=ids), ["note", "cancel_reason"], needles
        ),
    }


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("points", export_balance)
    privacy_registry.register_export_part("points_ledger", export_ledger)
    privacy_registry.register_export_part("point_lots", export_lots)
    privacy_registry.register_export_part("redemptions", export_redemptions)
    privacy_registry.register_erasure_step("points", erase)
    privacy_registry.register_activity(
        "redemptions",
        f"EXISTS (SELECT 1 FROM {Redemption._meta.db_table} r WHERE r.member_id = m.id AND r.created_at >= %(since)s)",
    )
