"""Insights in a member's data-subject export and erasure: the cockpit's activity days and 5A stage
moves and the RFM scores, all derived from other apps' rows. Erasure deletes them (the next rebuild
would drop them too: summaries count live members only); a merge moves them as any member row."""

from __future__ import annotations

from insights.models import MemberActivity, MemberRFM, StageMove
from members.privacy_registry import ErasureSubject


def export(member, actor) -> dict:
    activity = list(MemberActivity.objects.filter(member=member).order_by("day", "kind").values(
        "kind", "day", "store_id", "rows", "value"))
    moves = list(StageMove.objects.filter(member=member).order_by("day", "stage").values("day", "stage", "store_id"))
    rfm = list(MemberRFM.objects.filter(member=member).values(
        "last_order_at", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "segment",
        "computed_at"))
    return {"activity_days": activity, "stage_moves": moves, "rfm": rfm}


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction; idempotent."""
    ids = subject.member_ids
    return {
        "activity_days": MemberActivity.objects.filter(member_id__in=ids).delete()[0],
        "stage_moves": StageMove.objects.filter(member_id__in=ids).delete()[0],
        "rfm": MemberRFM.objects.filter(member_id__in=ids).delete()[0],
    }


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("insights", export)
    privacy_registry.register_erasure_step("insights", erase)
