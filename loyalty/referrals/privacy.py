"""Referrals' part of a member's data-subject export and erasure. The export names the other members
of a referral by id only (their data is theirs). Erasure deletes the member's referral code (a link
that points at a person), keeps who-referred-whom and the commissions by id, for the referrer's
accounting."""

from __future__ import annotations

from loyalty.referrals.models import Commission, Referral, ReferralCode
from members.privacy_registry import ErasureSubject


def export_referrals(member, actor) -> dict:
    code = ReferralCode.objects.filter(member=member).values_list("code", flat=True).first()
    referred_by = Referral.objects.filter(member=member).values("referrer_id", "code", "source", "created_at").first()
    made = list(
        Referral.objects.filter(referrer=member)
        .order_by("created_at", "id")
        .values("member_id", "code", "source", "order_id", "created_at")
    )
    return {"code": code, "referred_by": referred_by, "referrals_made": made}


def export_commissions(member, actor) -> list[dict]:
    return list(
        Commission.objects.filter(referrer=member)
        .order_by("placed_at", "id")
        .values(
            "order_id",
            "referred_member_id",
            "code",
            "base_amount",
            "amount",
            "currency",
            "status",
            "cancel_reason",
            "placed_at",
            "payable_at",
            "paid_at",
        )
    )


def erase(subject: ErasureSubject) -> dict:
    return {"codes": ReferralCode.objects.filter(member_id__in=subject.member_ids).delete()[0]}


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("referrals", export_referrals)
    privacy_registry.register_export_part("commissions", export_commissions)
    privacy_registry.register_erasure_step("referrals", erase)
