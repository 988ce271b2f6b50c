"""Referrals' entries of the member timeline (members.timeline): who brought the member in, whom
the member brought in, and the commissions the member earned."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.referrals.models import Commission, CommissionStatus, Referral
from members.timeline import Entry, Window

MESSAGES = {
    "referred_by": _("Referred by member %(referrer)s (code %(code)s)"),
    "referred": _("Referred member %(member)s (code %(code)s)"),
    "commission": _("Commission %(amount)s on order %(order)s: %(status)s"),
}


def referred_by_source(window: Window):
    return [
        Entry(at=r.created_at, pk=r.pk, code="referred_by", params={"referrer": r.referrer_id, "code": r.code})
        for r in window.page(Referral.objects.filter(member=window.member))
    ]


def referrals_made_source(window: Window):
    return [
        Entry(at=r.created_at, pk=r.pk, code="referred", params={"member": r.member_id, "code": r.code})
        for r in window.page(Referral.objects.filter(referrer=window.member))
    ]


def commissions_source(window: Window):
    queryset = Commission.objects.filter(referrer=window.member).select_related("order")
    return [
        Entry(
            at=c.created_at,
            pk=c.pk,
            code="commission",
            params={
                "amount": f"{c.currency} {c.amount:.2f}",
                "order": c.order.external_id if c.order else "—",
                "status": CommissionStatus(c.status).label if c.status in CommissionStatus.values else c.status,
            },
        )
        for c in window.page(queryset)
    ]


def register() -> None:
    from members import timeline

    timeline.register("referrals", referred_by_source, label=_("Referrals"), messages=MESSAGES, order=70)
    timeline.register("referrals", referrals_made_source, name="referrals.made", messages=MESSAGES)
    timeline.register("referrals", commissions_source, name="referrals.commissions", messages=MESSAGES)
