"""Each member's tier rank, for the tier multiplier and for rewards kept for higher levels (points
build on the tiers app: `MemberTier(member, level → TierLevel(rank, name))`)."""

from __future__ import annotations

from loyalty.tiers import sql as tiers_sql
from loyalty.tiers.models import MemberTier, TierLevel


def tier_sql() -> str:
    """A SELECT of (member_id, rank, name) for every member holding a level."""
    member_column = MemberTier._meta.get_field("member").column
    level_column = MemberTier._meta.get_field("level").column
    return (
        f'SELECT t."{member_column}" AS member_id, l.rank, l.name '
        f'FROM "{tiers_sql.MEMBER_TIER}" t JOIN "{tiers_sql.TIER_LEVEL}" l ON l.id = t."{level_column}"'
    )


def rank_of(member_id: int) -> tuple[int | None, str]:
    """The member's (rank, level name); (None, "") without a level."""
    row = (
        MemberTier.objects.filter(member_id=member_id, level__isnull=False)
        .values_list("level__rank", "level__name")
        .first()
    )
    return (row[0], row[1]) if row else (None, "")


def level_names() -> dict[int, str]:
    """{rank: level name} of the brand's ladder: labels for the policy screen."""
    return dict(TierLevel.objects.order_by("rank").values_list("rank", "name"))
