"""Why a points entry happened, as a code and its parameters stored on the entry and put into words
when read, in the reader's language (the stored `explanation` is kept for rows written before the
codes, and as the writer's own wording for exports)."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ORDER = "order"
REFUND = "refund"
EXPIRE = "expire"
ADJUST = "adjust"
REDEEM = "redeem"
REDEMPTION_CANCELLED = "redemption_cancelled"
TRANSFER_OUT = "transfer_out"
TRANSFER_IN = "transfer_in"
# Points spent on a community event's seat and given back (written by communities.services.prices).
EVENT_SIGNUP = "event_signup"
EVENT_REFUND = "event_refund"

# Why lots moved between profiles (transfer entries).
ORDER_MOVED = "order_moved"
MERGED = "merged"
TRANSFER_REASONS = {
    ORDER_MOVED: gettext_lazy("the order now belongs to this member"),
    MERGED: gettext_lazy("duplicate profile merged"),
}


def positional(pattern: str, *args) -> str:
    """Fill a pattern with numbered placeholders (%1$s, %2$s…), the form the ledger's SQL writers
    share with these renderers, so one translation serves both."""
    return re.sub(r"%(\d+)\$s", lambda m: str(args[int(m[1]) - 1]), pattern)


def _order(p: dict) -> str:
    amount = p.get("amount", "")
    if p.get("counted"):
        amount += f" → {p['counted']} ({p.get('categories') or ''})"
    multipliers = ""
    if p.get("factor"):
        multipliers += f" × {p['factor']} ({p.get('currency', '')})"
    if p.get("tier_mult"):
        multipliers += f" × {p['tier_mult']} ({p.get('tier') or ''})"
    if p.get("birthday_mult"):
        multipliers += f" × {p['birthday_mult']} ({_('birthday month')})"
    # Placeholders: 1 order number, 2 amount, 3 points per unit, 4 currency, 5 multipliers, 6 points.
    return positional(
        _("Order %1$s: %2$s × %3$s pt/%4$s%5$s = %6$s pts"),
        p.get("order", ""),
        amount,
        p.get("rate", ""),
        p.get("unit", ""),
        multipliers,
        p.get("points", ""),
    )


def _expire(p: dict) -> str:
    # Placeholders: 1 points, 2 number of lots, 3 the last day the points were valid.
    return positional(
        _("%1$s pts expired (%2$s lot(s), valid until %3$s)"),
        p.get("points", ""),
        p.get("lots", ""),
        p.get("until", ""),
    )


def _refund(p: dict) -> str:
    text = _("Refund on order %(order)s (net now %(net)s): %(points)s pts taken back") % p
    if p.get("unrecovered"):
        text += _("; %(n)s pts could not be taken back (already spent)") % {"n": p["unrecovered"]}
    return text


def _transfer(p: dict, message: str) -> str:
    reason = TRANSFER_REASONS.get(p.get("reason", ""), p.get("reason", ""))
    return message % {"points": p.get("points", ""), "member": p.get("member", ""), "reason": reason}


def _redeem(p: dict) -> str:
    from loyalty.points.models import RewardKind

    kind = p.get("kind", "")
    label = RewardKind(kind).label if kind in RewardKind.values else kind
    return _("Redeemed %(reward)s (%(kind)s): %(cost)s pts") % {
        "reward": p.get("reward", ""),
        "kind": label,
        "cost": p.get("cost", ""),
    }


def _cancelled(p: dict) -> str:
    text = _("Redemption of %(reward)s cancelled: %(points)s pts returned") % p
    return text + f" ({p['note']})" if p.get("note") else text


RENDERERS = {
    ORDER: _order,
    REFUND: _refund,
    EXPIRE: _expire,
    ADJUST: lambda p: _("Adjusted by %(points)+d pts: %(reason)s") % p,
    REDEEM: _redeem,
    REDEMPTION_CANCELLED: _cancelled,
    EVENT_SIGNUP: lambda p: _("Event %(event)s: %(points)s pts for a seat") % p,
    EVENT_REFUND: lambda p: _("Event %(event)s: %(points)s pts refunded (sign-up cancelled)") % p,
    TRANSFER_OUT: lambda p: _transfer(p, _("%(points)s pts moved to member %(member)s: %(reason)s")),
    TRANSFER_IN: lambda p: _transfer(p, _("%(points)s pts moved from member %(member)s: %(reason)s")),
}


def describe(code: str, params: dict, fallback: str = "") -> str:
    """The entry's reason in the active language; `fallback` (the stored text) for rows without a code."""
    render = RENDERERS.get(code)
    if render is None:
        return fallback
    try:
        return render(params or {})
    except (KeyError, TypeError, ValueError):
        return fallback
