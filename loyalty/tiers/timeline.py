"""Tiers' entries of the member timeline (members.timeline): every move up or down the ladder."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.tiers.models import ChangeReason, TierChange
from members.timeline import Entry, Window

MESSAGES = {
    "up": _("Tier raised: %(from)s → %(to)s (%(reason)s)"),
    "down": _("Tier lowered: %(from)s → %(to)s (%(reason)s)"),
    "changed": _("Tier changed: %(from)s → %(to)s (%(reason)s)"),
}


def _direction(change: TierChange) -> str:
    before = change.from_level.threshold if change.from_level else None
    after = change.to_level.threshold if change.to_level else None
    if after is not None and (before is None or after > before):
        return "up"
    if before is not None and (after is None or after < before):
        return "down"
    return "changed"


def changes_source(window: Window):
    queryset = TierChange.objects.filter(member=window.member).select_related("from_level", "to_level", "changed_by")
    return [
        Entry(
            at=c.created_at,
            pk=c.pk,
            code=_direction(c),
            params={
                "from": c.from_name or "—",
                "to": c.to_name or "—",
                "reason": ChangeReason(c.reason).label if c.reason in ChangeReason.values else c.reason,
            },
            actor_user=c.changed_by,
            actor_label=c.actor_label,
        )
        for c in window.page(queryset)
    ]


def register() -> None:
    from members import timeline

    timeline.register("tiers", changes_source, label=_("Tier"), messages=MESSAGES, order=60)
