"""Points' entries of the member timeline (members.timeline): every ledger line (earned, redeemed,
expired, adjusted, taken back, moved), worded from its reason code in the reader's language."""

from __future__ import annotations

from loyalty.points import reasons
from loyalty.points.models import PointEntry
from members.timeline import Entry, Window

LEGACY = "legacy"  # a line written before reason codes: its stored text


def _renderer(code: str):
    return lambda params: reasons.describe(code, params)


MESSAGES = {code: _renderer(code) for code in reasons.RENDERERS} | {LEGACY: lambda params: params.get("text", "")}


def ledger_source(window: Window):
    queryset = PointEntry.objects.filter(member=window.member).select_related("actor")
    entries = []
    for e in window.page(queryset):
        known = e.reason_code in reasons.RENDERERS
        entries.append(
            Entry(
                at=e.created_at,
                pk=e.pk,
                code=e.reason_code if known else LEGACY,
                params=dict(e.reason_params, delta=e.delta, balance=e.balance_after)
                if known
                else {"text": e.explanation, "delta": e.delta, "balance": e.balance_after},
                actor_user=e.actor,
                actor_label=e.actor_label,
            )
        )
    return entries


def register() -> None:
    from django.utils.translation import gettext_lazy as _

    from members import timeline

    timeline.register("points", ledger_source, label=_("Points"), messages=MESSAGES, order=55)
