"""Read side of points: a member's balance, lots and ledger, the rewards a member can redeem, and
the points liability (what members hold, its value and what expires soon) for the figures page."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from loyalty.points import tiering
from loyalty.points.models import MemberPoints, PointEntry, PointLot, PointsPolicy, Reward
from scrm.permissions import scopes_of
from scrm.scoping import scope

RECENT_ENTRIES = 8
OPEN_LOTS = 50


def last_valid_day(expires_at: datetime.datetime | None) -> datetime.date | None:
    """The last day points are valid: a lot expiring at 1 Jan 00:00 is valid through 31 Dec."""
    if expires_at is None:
        return None
    return timezone.localtime(expires_at - datetime.timedelta(microseconds=1)).date()


def _valid(now) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def expiring(member_id: int, *, now=None, within_days: int | None = None, limit: int = 3) -> list[dict]:
    """The next expiry dates of the member's points: [{"date": date, "points": n}, ...]."""
    now = now or timezone.now()
    lots = PointLot.objects.filter(member_id=member_id, remaining__gt=0, expires_at__gt=now)
    if within_days is not None:
        lots = lots.filter(expires_at__lte=now + datetime.timedelta(days=within_days))
    rows = lots.values("expires_at").annotate(points=Sum("remaining")).order_by("expires_at")
    merged: dict = {}
    for row in rows[: limit * 4]:
        day = last_valid_day(row["expires_at"])
        merged[day] = merged.get(day, 0) + row["points"]
    return [{"date": day, "points": points} for day, points in list(merged.items())[:limit]]


def member_summary(member, *, now=None, entries: int = RECENT_ENTRIES, lots: int = OPEN_LOTS) -> dict:
    now = now or timezone.now()
    totals = MemberPoints.objects.filter(pk=member.pk).first()
    return {
        "member": member.pk,
        "balance": totals.balance if totals else 0,
        "earned_total": totals.earned_total if totals else 0,
        "redeemed_total": totals.redeemed_total if totals else 0,
        "expired_total": totals.expired_total if totals else 0,
        "expiring": expiring(member.pk, now=now),
        "lots": list(
            PointLot.objects.filter(member=member, remaining__gt=0)
            .filter(_valid(now))
            .select_related("order")
            .order_by("expires_at", "earned_at", "id")[:lots]
        ),
        "entries": list(
            PointEntry.objects.filter(member=member)
            .select_related("actor", "redemption")
            .order_by("-created_at", "-id")[:entries]
        ),
    }


def available_rewards(*, now=None):
    now = now or timezone.now()
    return (
        Reward.objects.filter(is_active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .filter(Q(stock__isnull=True) | Q(stock__gt=0))
        .order_by("points_cost", "id")
    )


def member_panel(member, user) -> dict:
    """What the member 360 panel shows (desktop and phone): balance, what expires next, recent
    entries, and the rewards staff can redeem at the till, the affordable ones first."""
    now = timezone.now()
    summary = member_summary(member, now=now, lots=0)
    scopes = scopes_of(user)
    can_redeem = "points:write" in scopes
    rank, tier_name = tiering.rank_of(member.pk) if can_redeem else (None, "")
    rewards = []
    if can_redeem:
        for reward in available_rewards(now=now)[:30]:
            tier_ok = not reward.min_tier_rank or (rank or 0) >= reward.min_tier_rank
            shortfall = max(reward.points_cost - summary["balance"], 0)
            rewards.append({"reward": reward, "affordable": not shortfall, "shortfall": shortfall, "tier_ok": tier_ok})
        rewards.sort(key=lambda r: (not (r["affordable"] and r["tier_ok"]), r["reward"].points_cost))
    return {
        **summary,
        "rewards": rewards,
        "any_redeemable": any(r["affordable"] and r["tier_ok"] for r in rewards),
        "can_redeem": can_redeem,
        "can_adjust": "point_adjustments:write" in scopes,
        "tier_name": tier_name,
        "policy_enabled": PointsPolicy.current().enabled,
    }


def liability(actor, *, rate: Decimal | None = None, now=None) -> dict:
    """Outstanding points (not yet expired), their value at `rate` per point (the policy's point
    value by default) and what expires within 30 and 90 days: in total and per home store, within
    what `actor` may see. Members without a home store are counted under store None."""
    now = now or timezone.now()
    rate = PointsPolicy.current().point_value if rate is None else Decimal(str(rate))
    lots = scope(PointLot.objects.filter(remaining__gt=0).filter(_valid(now)), actor)
    rows = (
        lots.values("member__home_store", "member__home_store__code", "member__home_store__name")
        .annotate(
            outstanding=Sum("remaining"),
            expiring_30=Sum("remaining", filter=Q(expires_at__lte=now + datetime.timedelta(days=30)), default=0),
            expiring_90=Sum("remaining", filter=Q(expires_at__lte=now + datetime.timedelta(days=90)), default=0),
        )
        .order_by("-outstanding")
    )
    stores = []
    for row in rows:
        stores.append(
            {
                "store": row["member__home_store"],
                "code": row["member__home_store__code"] or "",
                "name": row["member__home_store__name"] or "",
                "outstanding": row["outstanding"],
                "value": (row["outstanding"] * rate).quantize(Decimal("0.01")),
                "expiring_30": row["expiring_30"],
                "expiring_90": row["expiring_90"],
            }
        )
    outstanding = sum(s["outstanding"] for s in stores)
    return {
        "rate": rate,
        "outstanding": outstanding,
        "value": (outstanding * rate).quantize(Decimal("0.01")),
        "expiring_30": sum(s["expiring_30"] for s in stores),
        "expiring_90": sum(s["expiring_90"] for s in stores),
        "stores": stores,
    }
