"""Standing automatic membership: a community's rule "the members of segment S are members" (a
programme such as the KOC senior community: a segment of senior creators).

`set_rule` saves (or clears) the rule as its actor may: the segment must be one they see and its
conditions valid now; the first run is queued after the commit. `apply` runs it for one community,
set-based, under the community's row lock, as the system reaching the community's whole store (the
rule stands for the store, not for whoever saved it): the segment's live members of the store are
compared with the community's automatic members (source "automatic").

- Leaving: an automatic member no longer in the segment leaves; a member who joined any other way
  (in store, at an event, an invitation, a segment added by hand, WeCom) is never removed by the rule.
- Joining: members of the segment not in the community join, in member id order (the longest-standing
  members first), only as far as the capacity has room; the rest are counted as `left_out` and the
  run says so.
- A segment the server cannot evaluate (deleted, or its conditions no longer valid) is an error: the
  run records it and changes nothing, never "everyone". A segment of more than MAX_MEMBERS of the
  store is refused the same way (bounded work).

Each run writes its outcome on the community (`auto_ran_at`, `auto_result`), shown on its page.
The beat runs every rule daily (communities.tasks.apply_membership_rules), one transaction each."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Community, CommunityMembership, CommunityStatus, MembershipSource
from communities.services import access, entry, wecom_groups
from members import sql as members_sql
from members.segments.audience import Audience
from members.segments.models import Segment
from scrm.actors import SystemActor
from scrm.errors import InvalidInput

RULE_ACTOR = SystemActor("communities:membership-rule")
MEMBERSHIP = CommunityMembership._meta.db_table
MAX_MEMBERS = 100_000  # a segment's members of the store one rule follows
MAX_COMMUNITIES = 500  # rules one beat run applies (the next day's run, or a saved rule, takes the rest)


@dataclass(frozen=True)
class Outcome:
    added: int = 0
    removed: int = 0
    left_out: int = 0  # in the segment but beyond the capacity
    members: int = 0
    error: str = ""


def _segment_sql(community: Community) -> tuple[str | None, list, str]:
    """(sql of the segment's live members of the store, params, error)."""
    segment = Segment.objects.filter(pk=community.auto_segment_id).first()
    if segment is None:
        return None, [], _("The rule's segment no longer exists; nobody was added or removed.")
    if segment.store_id is not None and segment.store_id != community.store_id:
        return None, [], _("The rule's segment belongs to another store; nobody was added or removed.")
    audience = Audience.of_segment(segment, actor=RULE_ACTOR)
    if audience.error is not None:
        return None, [], _("The rule's segment cannot be evaluated (%(error)s); nobody was added or removed.") % {
            "error": audience.error}
    ids_sql, ids_params = audience.member_ids_sql
    sql = (f"SELECT m.id FROM ({ids_sql}) AS s JOIN {members_sql.MEMBER} m ON m.id = s.id "
           f"WHERE {members_sql.live('m')} AND m.home_store_id = %s")
    return sql, [*ids_params, community.store_id], ""


@transaction.atomic
def set_rule(*, community: Community, actor, segment_id) -> Community:
    """Save the community's rule (a segment's id) or clear it (None); the first run follows the commit."""
    community = Community.objects.select_for_update().get(pk=community.pk)
    access.require_manage_community(actor, community)
    if segment_id is None:
        Community.objects.filter(pk=community.pk).update(auto_segment=None, updated_at=timezone.now())
        community.refresh_from_db()
        return community
    segment = entry._segment(actor, segment_id)
    if segment.store_id is not None and segment.store_id != community.store_id:
        raise InvalidInput(details={"segment": [_("The segment belongs to another store.")]})
    if Audience.of_segment(segment, actor=actor).error is not None:
        raise InvalidInput(details={"segment": [_("The segment's conditions are not valid now; fix it first.")]})
    Community.objects.filter(pk=community.pk).update(auto_segment=segment, updated_at=timezone.now())
    community.refresh_from_db()
    from communities import tasks

    community_id = community.pk
    transaction.on_commit(lambda: tasks.apply_membership_rules.delay(community_id), robust=True)  # else daily
    return community


def _record(community: Community, outcome: Outcome, now: dt.datetime) -> Outcome:
    Community.objects.filter(pk=community.pk).update(auto_ran_at=now, auto_result=asdict(outcome))
    return outcome


@transaction.atomic
def apply(*, community_id: int, now: dt.datetime | None = None) -> Outcome:
    """Run one community's rule now (nothing for a community without one, or gone)."""
    now = now or timezone.now()
    community = Community.objects.select_for_update().filter(pk=community_id).first()
    if community is None or community.auto_segment_id is None:
        return Outcome()
    sql, params, error = _segment_sql(community)
    if error:
        return _record(community, Outcome(members=wecom_groups.occupied(community), error=error), now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS s", params)
        size = cursor.fetchone()[0]
        if size > MAX_MEMBERS:
            return _record(community, Outcome(members=wecom_groups.occupied(community), error=_(
                "The rule's segment has %(count)d members of the store; at most %(max)d: narrow it. Nobody was "
                "added or removed.") % {"count": size, "max": MAX_MEMBERS}), now)
        cursor.execute(
            f"""UPDATE {MEMBERSHIP} cm SET left_at = %s
                WHERE cm.community_id = %s AND cm.left_at IS NULL AND cm.source = %s
                  AND cm.member_id NOT IN (SELECT s.id FROM ({sql}) AS s)""",
            [now, community.pk, MembershipSource.AUTOMATIC, *params])
        removed = cursor.rowcount
        missing_sql = (f"SELECT s.id FROM ({sql}) AS s WHERE NOT EXISTS (SELECT 1 FROM {MEMBERSHIP} x "
                       "WHERE x.community_id = %s AND x.member_id = s.id AND x.left_at IS NULL)")
        missing_params = [*params, community.pk]
        cursor.execute(f"SELECT count(*) FROM ({missing_sql}) AS e", missing_params)
        missing = cursor.fetchone()[0]
        room = missing
        if community.capacity is not None:
            room = max(0, min(missing, community.capacity - wecom_groups.occupied(community)))
        if community.status != CommunityStatus.ACTIVE:
            room = 0
        added = 0
        if room:
            cursor.execute(
                f"""INSERT INTO {MEMBERSHIP} (community_id, member_id, role, source, joined_at)
                    SELECT %s, e.id, 'member', %s, %s FROM ({missing_sql}) AS e ORDER BY e.id LIMIT %s
                    ON CONFLICT (community_id, member_id) WHERE left_at IS NULL DO NOTHING""",
                [community.pk, MembershipSource.AUTOMATIC, now, *missing_params, room])
            added = cursor.rowcount
    left_out = missing - added
    error = ""
    if left_out and community.status != CommunityStatus.ACTIVE:
        error = _("The community is %(status)s: nobody joined.") % {"status": community.get_status_display()}
    elif left_out:
        error = _("The community is full: %(count)d members of the segment could not join (capacity %(capacity)d).") % {
            "count": left_out, "capacity": community.capacity}
    return _record(community, Outcome(added=added, removed=removed, left_out=left_out,
                                      members=wecom_groups.occupied(community), error=error), now)


def apply_all(*, community_ids=None, now: dt.datetime | None = None, limit: int = MAX_COMMUNITIES) -> int:
    """Every community with a rule (or those of `community_ids`), oldest run first, a transaction each;
    returns how many members joined or left."""
    rules = Community.objects.filter(auto_segment_id__isnull=False)
    if community_ids is not None:
        rules = rules.filter(pk__in=community_ids)
    changed = 0
    order = (F("auto_ran_at").asc(nulls_first=True), "pk")
    for community_id in rules.order_by(*order).values_list("pk", flat=True)[:limit]:
        outcome = apply(community_id=community_id, now=now)
        changed += outcome.added + outcome.removed
    return changed
