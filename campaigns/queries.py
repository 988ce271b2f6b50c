"""Read side of campaigns: counts by state, the SQL of personal fields, scoped lists."""

from __future__ import annotations

from django.db import connection, models
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import JOURNEY_LABEL, NOTICE_LABEL, Campaign, Delivery, DeliveryState
from loyalty.points import sql as points_sql
from loyalty.tiers import sql as tiers_sql
from members import sql as members_sql

DELIVERY = Delivery._meta.db_table
CAMPAIGN = Campaign._meta.db_table

STATES = [state.value for state in DeliveryState]


class Kind(models.TextChoices):
    """How campaigns are told apart in the lists: what made them (created_by_label, the series'
    fields). The dashboard's list leaves notices and journey sends out unless asked for them."""

    MASS = "mass", _("Mass messages")
    SERIES = "series", _("Recurring series")
    RUN = "run", _("Runs of a series")
    JOURNEY = "journey", _("Journey sends")
    NOTICE = "notice", _("Service notices")
    ALL = "all", _("All")


_NOTICE = Q(created_by_label__startswith=NOTICE_LABEL)
_JOURNEY = Q(created_by_label__startswith=JOURNEY_LABEL)
_SERIES = ~Q(repeat="")
_RUN = Q(parent__isnull=False)
KIND_Q = {
    Kind.NOTICE: _NOTICE, Kind.JOURNEY: _JOURNEY, Kind.SERIES: _SERIES, Kind.RUN: _RUN,
    Kind.MASS: ~_NOTICE & ~_JOURNEY & ~_SERIES & ~_RUN, Kind.ALL: Q(),
}
# What the dashboard's list shows when no kind is chosen: what operators wrote (one-off, series, runs).
OPERATORS_Q = ~_NOTICE & ~_JOURNEY


def kind_of(campaign: Campaign) -> str:
    """The Kind of one campaign, as KIND_Q tells them apart."""
    label = campaign.created_by_label or ""
    if label.startswith(NOTICE_LABEL):
        return Kind.NOTICE
    if label.startswith(JOURNEY_LABEL):
        return Kind.JOURNEY
    if campaign.repeat:
        return Kind.SERIES
    if campaign.parent_id is not None:
        return Kind.RUN
    return Kind.MASS


def counts_by_state(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """{campaign id: {state: count, ..., "total": n}} with every state present (0 when none)."""
    counts = {pk: dict.fromkeys(STATES, 0) | {"total": 0} for pk in campaign_ids}
    if not campaign_ids:
        return counts
    rows = (
        Delivery.objects.filter(campaign_id__in=campaign_ids)
        .values_list("campaign_id", "state").annotate(n=Count("*")).order_by()
    )
    for campaign_id, state, n in rows:
        counts[campaign_id][state] = n
        counts[campaign_id]["total"] += n
    return counts


def counts_by_reason(campaign_id: int) -> dict[str, int]:
    rows = (
        Delivery.objects.filter(campaign_id=campaign_id).exclude(reason="")
        .values_list("reason").annotate(n=Count("*")).order_by()
    )
    return dict(rows)


def personal_values(member_ids: list[int], address_sql) -> dict[int, dict]:
    """Per member: the personal fields' values ({name}, {tier}, {points}) and the channel's address
    (`address_sql(alias)` gives its expression), in one query."""
    if not member_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id, m.name, coalesce(tl.name, ''), coalesce(mp.balance, 0), {address_sql('m')} "
            f"FROM {members_sql.MEMBER} m "
            f"LEFT JOIN {tiers_sql.MEMBER_TIER} mt ON mt.member_id = m.id "
            f"LEFT JOIN {tiers_sql.TIER_LEVEL} tl ON tl.id = mt.level_id "
            f"LEFT JOIN {points_sql.MEMBER_POINTS} mp ON mp.member_id = m.id "
            "WHERE m.id = ANY(%s)",
            [member_ids],
        )
        return {
            row[0]: {"name": row[1], "tier": row[2], "points": row[3], "address": row[4]}
            for row in cursor.fetchall()
        }
