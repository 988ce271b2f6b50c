"""Read side of referrals: links, the member 360 panel, commission lists."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q, Sum

from loyalty.referrals.models import Commission, CommissionStatus, Referral, ReferralCode
from members.models import Member
from scrm.scoping import scope


def referral_link(code: str) -> str:
    """The member's link from settings.SIYU_REFERRAL_LINK ("/r/{code}" or a full https address)."""
    return settings.SIYU_REFERRAL_LINK.format(code=code)


def commission_totals(queryset) -> dict:
    """{status: {"count": n, "amount": Decimal}} for pending, payable, paid and cancelled."""
    row = queryset.aggregate(
        **{
            f"{status}_{what}": agg(field, filter=Q(status=status))
            for status in CommissionStatus.values
            for what, agg, field in (("count", Count, "id"), ("amount", Sum, "amount"))
        }
    )
    return {
        status: {"count": row[f"{status}_count"], "amount": row[f"{status}_amount"] or 0}
        for status in CommissionStatus.values
    }


def member_panel(member: Member, user) -> dict:
    """Code and link, who referred the member (within what the user may see), how many people they
    referred, and their commissions by status: four queries."""
    code = ReferralCode.objects.filter(member=member).values_list("code", flat=True).first()
    referred_by = Referral.objects.filter(member=member).first()
    referrer = None
    if referred_by is not None:
        referrer = scope(Member.objects.all(), user).filter(pk=referred_by.referrer_id).only("id", "name").first()
    return {
        "code": code,
        "link": referral_link(code) if code else "",
        "referred_by": referred_by,
        "referrer": referrer,
        "referred_count": Referral.objects.filter(referrer=member).count(),
        "totals": commission_totals(Commission.objects.filter(referrer=member)),
    }
