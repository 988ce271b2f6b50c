"""Entry from a segment: the members of a saved segment suggested for a community, or added to it
at once (a programme such as the KOC senior community), set-based.

The selection never widens: the segment must be one the actor sees (an unknown or deleted segment
is an error, never "everyone"), it is evaluated as the actor sees it (a store's staff see their
store's part), and only live members of the community's own store who are not in it yet are taken.
Adding is one INSERT ... SELECT in the community's row lock; a result past the community's capacity
or past MAX_ADD is refused and nothing is written."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Community, CommunityMembership, CommunityStatus, MembershipRole, MembershipSource
from communities.services import access, wecom_groups
from members import sql as members_sql
from members.models import Member
from members.segments.audience import Audience
from members.segments.models import Segment
from scrm.errors import Conflict, InvalidInput

MEMBERSHIP = CommunityMembership._meta.db_table
MAX_ADD = 100_000  # members one call adds; a larger programme is split into segments
SAMPLE = 20


def _segment(actor, segment_id) -> Segment:
    if not isinstance(segment_id, int) or isinstance(segment_id, bool):
        raise InvalidInput(details={"segment": [_("Give the segment's id.")]})
    segment = Segment.objects.visible_to(actor).filter(pk=segment_id).first()
    if segment is None:
        raise InvalidInput(details={"segment": [_("No segment %(id)s, or not yours to reach.") % {"id": segment_id}]})
    return segment


def _eligible_sql(community: Community, actor, segment: Segment) -> tuple[str, list]:
    """(sql, params) of the ids of the segment's live members of the community's store not in it."""
    audience = Audience.of_segment(segment, actor=actor)
    if audience.error is not None:
        raise InvalidInput(details={"segment": [_("The segment's conditions are no longer valid: %(error)s")
                                                % {"error": audience.error}]})
    ids_sql, ids_params = audience.member_ids_sql
    sql = (f"SELECT m.id FROM ({ids_sql}) AS s JOIN {members_sql.MEMBER} m ON m.id = s.id "
           f"WHERE {members_sql.live('m')} AND m.home_store_id = %s "
           f"AND NOT EXISTS (SELECT 1 FROM {MEMBERSHIP} x WHERE x.community_id = %s AND x.member_id = m.id "
           "AND x.left_at IS NULL)")
    return sql, [*ids_params, community.store_id, community.pk]


@dataclass(frozen=True)
class Suggestion:
    segment: Segment
    count: int  # the segment's members of the store not yet in the community
    sample: list  # the newest of them (at most SAMPLE)


def suggest(*, community: Community, segment_id, actor, sample: int = SAMPLE) -> Suggestion:
    """Who of the segment could be invited: how many, and the newest few."""
    access.require_manage_community(actor, community)
    segment = _segment(actor, segment_id)
    sql, params = _eligible_sql(community, actor, segment)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS e", params)
        count = cursor.fetchone()[0]
        cursor.execute(f"SELECT e.id FROM ({sql}) AS e ORDER BY e.id DESC LIMIT %s", [*params, max(0, sample)])
        ids = [row[0] for row in cursor.fetchall()]
    members = sorted(Member.objects.filter(pk__in=ids), key=lambda m: -m.pk)
    return Suggestion(segment, count, members)


@dataclass(frozen=True)
class Added:
    segment: Segment
    added: int
    members: int  # the community's members now


@transaction.atomic
def add_segment(*, community: Community, segment_id, actor, role: str = MembershipRole.MEMBER) -> Added:
    """Add the segment's members (of the community's store, not in it yet) to the community at once,
    with source "segment". Running it again adds only who joined the segment since."""
    if role not in MembershipRole.values:
        raise InvalidInput(details={"role": [_("Unknown role “%(role)s”.") % {"role": role}]})
    community = Community.objects.select_for_update().get(pk=community.pk)  # serialises against joins and capacity
    access.require_manage_community(actor, community)
    segment = _segment(actor, segment_id)
    if community.status != CommunityStatus.ACTIVE:
        raise Conflict(_("“%(name)s” is %(status)s: it takes no new members.")
                       % {"name": community.name, "status": community.get_status_display()}, code="community_closed")
    sql, params = _eligible_sql(community, actor, segment)
    before = wecom_groups.occupied(community)  # a mirrored group's customers take places too
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH added AS (
                    INSERT INTO {MEMBERSHIP} (community_id, member_id, role, source, joined_at)
                    SELECT %s, e.id, %s, %s, %s FROM ({sql}) AS e
                    ON CONFLICT (community_id, member_id) WHERE left_at IS NULL DO NOTHING RETURNING 1)
                SELECT count(*) FROM added""",
            [community.pk, role, MembershipSource.SEGMENT, timezone.now(), *params],
        )
        added = cursor.fetchone()[0]
    total = before + added
    if added > MAX_ADD:
        raise InvalidInput(details={"segment": [
            _("The segment would add %(count)d members; at most %(max)d at once: narrow it.")
            % {"count": added, "max": MAX_ADD}]})
    if community.capacity is not None and total > community.capacity:
        raise Conflict(
            _("“%(name)s” has room for %(free)d more members; the segment would add %(count)d. Nobody was added.")
            % {"name": community.name, "free": max(0, community.capacity - before), "count": added},
            code="community_full", details={"segment": [segment.pk]})
    return Added(segment, added, total)
