"""Read-side queries of the member centre: the 360 view of one member."""

from __future__ import annotations

from itertools import groupby

from members import panels
from members.models import (
    AttributeDefinition,
    Consent,
    Member,
    MemberEvent,
    MemberTag,
    NoteKind,
    ServiceNote,
    StaffRelation,
    Tag,
)
from members.services.attributes import sees_sensitive_attributes


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
        "events": list(MemberEvent.objects.filter(member=member).select_related("actor")[:50]),
        "panels": panels.for_member(member, user),
        "tag_board": tag_board(member),
        "note_kinds": NoteKind.choices,
    }
