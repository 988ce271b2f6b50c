"""Read-side queries of the member centre: the 360 view of one member, and the member figures of the
overview and of the staff phone's Today page."""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby

from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.db.models import BooleanField, Count, ExpressionWrapper, F, OuterRef, Q
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.translation import gettext as _

from members import columns, panels, timeline
from members import sql as members_sql
from members.models import (
    AttributeDefinition,
    Consent,
    Member,
    MemberTag,
    NoteKind,
    ServiceNote,
    StaffRelation,
    Stage,
    Tag,
)
from members.services.attributes import sees_sensitive_attributes
from scrm.errors import InvalidInput
from scrm.models import Store
from scrm.scoping import access_for, scope

# --- the member list's rows -----------------------------------------------------------------------

TAG_CHIPS = 6  # tags shown per row; the member page has them all
_OWN_SORTS = {"name": "name", "joined": "created_at"}
_IS_RULE = ExpressionWrapper(Q(tag__rule__isnull=False), output_field=BooleanField())


def sort_keys() -> list[str]:
    """What the member list sorts by: name, joined, and the sortable columns other apps add
    (last order, spend, points)."""
    return [*_OWN_SORTS, *(c.key for c in columns.all_columns() if c.sortable)]


def clean_sort(raw: str | None) -> str | None:
    """`key` or `-key` of sort_keys(), None for the default order; anything else is refused."""
    if raw in (None, ""):
        return None
    key = raw[1:] if raw.startswith("-") else raw
    if key not in sort_keys():
        raise InvalidInput(
            _("The member list cannot be sorted by “%(sort)s”; sort by one of: %(keys)s.")
            % {"sort": raw, "keys": ", ".join(sort_keys())},
            details={"sort": [_("Unknown sort key.")]}, code="unknown_sort",
        )
    return raw


def member_rows(queryset, sort: str | None):
    """The list's page query: home store, owner, every registered column and the first tags as chips,
    annotated on one SELECT (correlated subqueries), in the order asked for (newest first by default)."""
    tags = (
        MemberTag.objects.filter(member=OuterRef("pk"))
        .order_by("tag__group__sort_order", "tag__group__name", "tag__name")
        .values(chip=JSONObject(id="tag_id", name="tag__name", rule=_IS_RULE))[:TAG_CHIPS]
    )
    annotations = {"tag_chips": ArraySubquery(tags)}
    for column in columns.all_columns():
        annotations[column.attr] = column.expression()
        if column.colour is not None:
            annotations[f"{column.attr}_colour"] = column.colour()
    queryset = queryset.select_related("home_store", "owner").annotate(**annotations)
    if sort is None:
        return queryset.order_by("-id")
    key = sort.lstrip("-")
    field = _OWN_SORTS.get(key) or columns.get(key).attr
    expression = F(field).desc(nulls_last=True) if sort.startswith("-") else F(field).asc(nulls_last=True)
    return queryset.order_by(expression, "-id")


def tag_usage(tag_ids) -> dict[int, int]:
    """tag id -> how many members carry it (every member: what deleting or merging it touches), one
    grouped query over the (tag, member) index."""
    rows = MemberTag.objects.filter(tag_id__in=list(tag_ids)).values("tag_id").annotate(n=Count("id")).order_by()
    return {row["tag_id"]: row["n"] for row in rows}


def list_columns() -> list[columns.Column]:
    return columns.all_columns()


def tag_board(member: Member) -> list[dict]:
    """Every hand-applied tag, grouped, with whether the member carries it: the quick-tag chips."""
    carried = set(MemberTag.objects.filter(member=member).values_list("tag_id", flat=True))
    tags = Tag.objects.filter(rule__isnull=True).select_related("group").order_by(
        "group__sort_order", "group__name", "name"
    )
    return [
        {"group": group, "tags": [{"tag": t, "on": t.pk in carried} for t in items]}
        for group, items in groupby(tags, key=lambda t: t.group)
    ]


def member_360(member: Member, user) -> dict:
    tags = list(
        MemberTag.objects.filter(member=member)
        .select_related("tag__group", "added_by")
        .order_by("tag__group__sort_order", "tag__group__name", "tag__name")
    )
    tag_groups = [(group, list(items)) for group, items in groupby(tags, key=lambda mt: mt.tag.group)]
    definitions = list(AttributeDefinition.objects.filter(is_active=True))
    # Sensitive values (health, children) are for operators and managers, not every clerk.
    hide_sensitive = not sees_sensitive_attributes(user)
    attributes = [
        {
            "definition": d,
            "value": member.attributes.get(d.code),
            "hidden": hide_sensitive and (d.sensitive or d.requires_guardian),
        }
        for d in definitions
        if d.code in member.attributes
    ]
    return {
        "identities": list(member.identities.order_by("channel", "created_at")),
        "tag_groups": tag_groups,
        "attributes": attributes,
        "consents": list(Consent.objects.filter(member=member).order_by("purpose", "channel")),
        "relations": list(
            StaffRelation.objects.filter(member=member)
            .select_related("staff", "store")
            .order_by("-is_owner", "-added_at")
        ),
        "notes": list(ServiceNote.objects.filter(member=member).select_related("author", "store")[:50]),
        "timeline": timeline.page(member, user, limit=timeline.PAGE_SIZE),
        "panels": panels.for_member(member, user),
        "tag_board": tag_board(member),
        "note_kinds": NoteKind.choices,
    }


# --- The overview's and the Today page's sections (registered in members/plugins.py) ------------

OVERVIEW_TTL = 60  # seconds; member counts over tens of millions of rows are not worth redoing per view


def overview_figures(user) -> dict:
    """Members (all, new in 7 and 30 days), the 5A stages and the stores with most members, within the
    user's stores; computed once a minute per scope."""
    access = access_for(user)
    key = f"overview-members:{'all' if access.all_stores else access.store_id}"
    figures = cache.get(key)
    if figures is None:
        figures = _compute_overview_figures(user)
        cache.set(key, figures, OVERVIEW_TTL)
    return figures


def _compute_overview_figures(user) -> dict:
    now = timezone.now()
    members = scope(Member.live.all(), user)
    totals = members.aggregate(
        total=Count("id"),
        new_7d=Count("id", filter=Q(created_at__gte=now - timedelta(days=7))),
        new_30d=Count("id", filter=Q(created_at__gte=now - timedelta(days=30))),
    )
    stage_counts = dict(members.values_list("stage").annotate(n=Count("id")).order_by())
    stages = [
        {"code": code, "label": label, "count": stage_counts.get(code, 0)}
        for code, label in Stage.choices
    ]
    top_stores = list(
        scope(Store.objects.filter(is_active=True), user)
        .annotate(
            member_count=Count(
                "members", filter=members_sql.live_q("members")
            )
        )
        .select_related("region")
        .order_by("-member_count", "code")[:8]
        .values("id", "code", "name", "city", "region__name", "member_count")
    )
    return {
        "members_total": totals["total"],
        "members_new_7d": totals["new_7d"],
        "members_new_30d": totals["new_30d"],
        "stages": stages,
        "stage_max": max([s["count"] for s in stages] + [1]),
        "top_stores": top_stores,
    }


def today_figures(user) -> dict:
    """A guide's own members (all, new in 7 days) and their store's."""
    mine = Member.live.filter(owner=user)
    return {
        "my_members": mine.count(),
        "my_new_7d": mine.filter(created_at__gte=timezone.now() - timedelta(days=7)).count(),
        "store_members": scope(Member.live.all(), user).count(),
    }


def newest_members(user) -> dict:
    """The ten members most recently given to this guide."""
    return {"recent": list(Member.live.filter(owner=user).select_related("home_store").order_by("-id")[:10])}
