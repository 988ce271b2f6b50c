"""The SQL names of the members' tables and the one "live member" condition, for raw SQL here and in
the apps built on members: a grep for these names finds every statement that reads the tables.

A live member is one not merged into another profile and not erased; lists, counts, tiers, points
and sends only ever see live members."""

from __future__ import annotations

from django.db.models import Q

from members.models import (
    Consent,
    ConsentRecord,
    Identity,
    Member,
    MemberEvent,
    MemberTag,
    ServiceNote,
    StaffRelation,
    Tag,
    TagGroup,
)

MEMBER = Member._meta.db_table
IDENTITY = Identity._meta.db_table
MEMBER_TAG = MemberTag._meta.db_table
TAG = Tag._meta.db_table
TAG_GROUP = TagGroup._meta.db_table
STAFF_RELATION = StaffRelation._meta.db_table
SERVICE_NOTE = ServiceNote._meta.db_table
CONSENT = Consent._meta.db_table
CONSENT_RECORD = ConsentRecord._meta.db_table
MEMBER_EVENT = MemberEvent._meta.db_table

# The live-member condition as queryset lookups on Member (`Member.live` applies it).
LIVE = {"merged_into__isnull": True, "erased_at__isnull": True}


def live(alias: str | None = "m") -> str:
    """The live-member condition over the members table under `alias` (None: unqualified columns),
    e.g. live("m") -> "m.merged_into_id IS NULL AND m.erased_at IS NULL"."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}merged_into_id IS NULL AND {prefix}erased_at IS NULL"


def live_q(through: str = "") -> Q:
    """The live-member condition for a queryset of Member, or of a model reaching members through the
    relation `through` (e.g. live_q("member") on identities or tiers)."""
    prefix = f"{through}__" if through else ""
    return Q(**{prefix + lookup: value for lookup, value in LIVE.items()})
