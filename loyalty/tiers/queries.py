"""Read side of tiers: the member 360 panel, the ladder with its members, distribution and movement."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, F, Q
from django.utils import timezone

from loyalty.tiers.models import MemberTier, TierChange, TierLadder, TierLevel
from members import sql as members_sql
from scrm.scoping import access_for, scope

LADDER_ID = 1
FIGURES_SECONDS = 60  # distribution counts are cached this long per store scope


def ladder() -> TierLadder | None:
    return TierLadder.objects.filter(pk=LADDER_ID).first()


def levels() -> list[TierLevel]:
    return list(TierLevel.objects.filter(ladder_id=LADDER_ID).order_by("rank"))


def progress(tier: MemberTier | None, all_levels: list[TierLevel]) -> dict:
    """Where the member stands: the next level above the one they hold and what it still takes."""
    value = tier.qualifying_value if tier else Decimal("0")
    held = tier.level.rank if tier and tier.level_id else 0
    upcoming = next((lv for lv in all_levels if lv.rank > held), None)
    if upcoming is None:
        return {"next": None, "missing": Decimal("0"), "percent": 100}
    below = next((lv.threshold for lv in reversed(all_levels) if lv.rank <= held), Decimal("0"))
    missing = max(upcoming.threshold - value, Decimal("0"))
    span = upcoming.threshold - below
    percent = 100 if span <= 0 else int(max(Decimal("0"), min(Decimal("1"), (value - below) / span)) * 100)
    return {"next": upcoming, "missing": missing, "percent": percent}


def member_panel(member, user) -> dict:
    """The tier panel of the member 360 page (desktop and phone): three queries."""
    all_levels = levels()
    tier = MemberTier.objects.filter(member=member).select_related("level", "earned_level", "floor_level").first()
    history = list(TierChange.objects.filter(member=member).select_related("changed_by")[:5])
    from loyalty.tiers.services import can_set_floor

    return {
        "member": member,
        "has_ladder": bool(all_levels),
        "levels": all_levels,
        "tier": tier,
        "progress": progress(tier, all_levels),
        "history": history,
        "can_set_floor": bool(all_levels) and can_set_floor(user, member),
    }


def distribution(user) -> dict:
    """Live members per level (and per store for operators), within what `user` may see."""
    access = access_for(user)
    key = f"tiers:distribution:{'all' if access.all_stores else access.store_id}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    rows = (
        scope(
            MemberTier.objects.filter(members_sql.live_q("member"), level__isnull=False),
            user,
        )
        .values("member__home_store", "level")
        .annotate(n=Count("pk"))
        .order_by()
    )
    per_level: dict[int, int] = {}
    per_store: dict[int | None, dict[int, int]] = {}
    for row in rows:
        per_level[row["level"]] = per_level.get(row["level"], 0) + row["n"]
        per_store.setdefault(row["member__home_store"], {})[row["level"]] = row["n"]
    result = {
        "per_level": per_level,
        "per_store": per_store,
        "total": sum(per_level.values()),
        "computed_at": timezone.now(),
    }
    cache.set(key, result, FIGURES_SECONDS)
    return result


def movement(user, *, days: int = 30) -> dict:
    """Moves between levels in the last `days` days: upgrades, downgrades, members ranked for the first
    time (from no tier: not an upgrade), by pair and by reason."""
    since = timezone.now() - datetime.timedelta(days=days)
    changes = scope(TierChange.objects.filter(created_at__gte=since), user).exclude(from_rank=F("to_rank"))
    totals = changes.aggregate(
        up=Count("pk", filter=Q(to_rank__gt=F("from_rank"), from_rank__gt=0)),
        down=Count("pk", filter=Q(to_rank__lt=F("from_rank"))),
        entered=Count("pk", filter=Q(from_rank=0)),
    )
    pairs = list(
        changes.values("from_name", "to_name", "from_rank", "to_rank").annotate(n=Count("pk")).order_by("-n")[:20]
    )
    reasons = list(changes.values("reason").annotate(n=Count("pk")).order_by("-n"))
    return {
        "days": days,
        "up": totals["up"],
        "down": totals["down"],
        "entered": totals["entered"],
        "pairs": pairs,
        "reasons": reasons,
    }
