"""Communities that mirror a WeCom customer group keep their members in step with it.

The WeCom connector keeps the groups and who is in them (wecom.services.groups: the groups sync and
the change_external_chat callbacks, applied by reading the group back). A community with a
`wecom_chat_id` follows that state, set-based, in one transaction per run:

- joins: every customer in the group whom Siyu knows as a live member and who has no open
  membership gets one (source wecom, joined when WeCom says they joined);
- leaves: a membership that came from the group (source wecom) ends when the member is no longer
  in the group (left, or the group dismissed), at WeCom's time; members who joined in the store or
  at an event stay, group or not;
- owner: the group's owner becomes the community's owner when their Siyu account is active staff
  of the community's store (the sports ambassador runs the group), else the owner stays.

It runs after the connector's own handler on every change_external_chat callback (for the changed
group's communities), and periodically for all of them (communities.tasks.mirror_wecom_groups), so
a missed callback is caught up; running twice changes nothing. The group is the truth: a mirrored
community's capacity does not hold back members who are in the group (WeCom limits the group).

Capacity: a WeCom customer group holds at most GROUP_LIMIT people, so a mirrored community's
capacity is at most that; and every customer in the group takes a place (`occupied`), a member
Siyu knows or not, so joins by hand, invitations and rules stop where the group would overflow."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from communities.models import Community, CommunityMembership, MembershipSource
from members import sql as members_sql
from scrm.models import Role, User
from wecom import sql as wecom_sql
from wecom.models import GroupMemberKind

COMMUNITY = Community._meta.db_table
MEMBERSHIP = CommunityMembership._meta.db_table
USER = User._meta.db_table
# WeCom's customer group holds up to 500 people (the limit was raised from 200 in 2020; the group's
# own page in the WeCom client says 500). Not in the server API's answers, so kept here.
GROUP_LIMIT = 500


def occupied(community: Community, *, chat_id: str | None = None) -> int:
    """The community's places taken: its open memberships and, for a mirrored community, the group's
    customers who hold none (not known as members, or not mirrored yet). `chat_id`: as if it mirrored
    that group (a change being checked). Read in the caller's transaction (which holds the
    community's row lock when it is about to add)."""
    chat_id = community.wecom_chat_id if chat_id is None else chat_id
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {MEMBERSHIP} WHERE community_id = %s AND left_at IS NULL",
                       [community.pk])
        taken = cursor.fetchone()[0]
        if chat_id:
            cursor.execute(
                f"""SELECT count(*) FROM {wecom_sql.GROUP} g
                    JOIN {wecom_sql.GROUP_MEMBER} gm ON gm.group_id = g.id AND gm.kind = %s AND gm.left_at IS NULL
                    WHERE g.chat_id = %s AND g.dismissed_at IS NULL
                      AND (gm.member_id IS NULL OR NOT EXISTS (
                          SELECT 1 FROM {MEMBERSHIP} x WHERE x.community_id = %s AND x.member_id = gm.member_id
                          AND x.left_at IS NULL))""",
                [GroupMemberKind.CUSTOMER, chat_id, community.pk])
            taken += cursor.fetchone()[0]
    return taken


@dataclass(frozen=True)
class Mirrored:
    joined: int
    left: int
    owners: int


def _which(community_ids) -> tuple[str, list]:
    if community_ids is None:
        return "", []
    return " AND c.id = ANY(%s)", [list(community_ids)]


@transaction.atomic
def mirror(*, community_ids=None, now=None) -> Mirrored:
    """Bring the mirrored communities (all, or `community_ids`) in step with their groups."""
    now = now or timezone.now()
    which, which_params = _which(community_ids)
    with connection.cursor() as cursor:
        # Lock the communities first, in id order, as joins do (they lock the community's row).
        cursor.execute(f"SELECT c.id FROM {COMMUNITY} c WHERE c.wecom_chat_id <> ''{which} ORDER BY c.id FOR UPDATE",
                       which_params)
        if not cursor.fetchall():
            return Mirrored(0, 0, 0)
        cursor.execute(
            f"""INSERT INTO {MEMBERSHIP} (community_id, member_id, role, source, joined_at)
                SELECT DISTINCT ON (c.id, gm.member_id) c.id, gm.member_id, 'member', %s,
                       coalesce(gm.joined_at, %s)
                FROM {COMMUNITY} c
                JOIN {wecom_sql.GROUP} g ON g.chat_id = c.wecom_chat_id AND g.dismissed_at IS NULL
                JOIN {wecom_sql.GROUP_MEMBER} gm ON gm.group_id = g.id AND gm.kind = %s AND gm.left_at IS NULL
                    AND gm.member_id IS NOT NULL
                JOIN {members_sql.MEMBER} m ON m.id = gm.member_id AND {members_sql.live("m")}
                WHERE c.wecom_chat_id <> '' AND c.status = 'active'{which}
                  AND NOT EXISTS (SELECT 1 FROM {MEMBERSHIP} x WHERE x.community_id = c.id
                                  AND x.member_id = gm.member_id AND x.left_at IS NULL)
                ORDER BY c.id, gm.member_id
                ON CONFLICT (community_id, member_id) WHERE left_at IS NULL DO NOTHING""",
            [MembershipSource.WECOM, now, GroupMemberKind.CUSTOMER, *which_params])
        joined = cursor.rowcount
        cursor.execute(
            f"""UPDATE {MEMBERSHIP} cm SET left_at = greatest(cm.joined_at, coalesce(
                    (SELECT max(coalesce(gm.left_at, g.dismissed_at)) FROM {wecom_sql.GROUP} g
                     JOIN {wecom_sql.GROUP_MEMBER} gm ON gm.group_id = g.id AND gm.member_id = cm.member_id
                     WHERE g.chat_id = c.wecom_chat_id), %s))
                FROM {COMMUNITY} c
                WHERE cm.community_id = c.id AND c.wecom_chat_id <> ''{which}
                  AND cm.source = %s AND cm.left_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM {wecom_sql.GROUP} g
                                  JOIN {wecom_sql.GROUP_MEMBER} gm ON gm.group_id = g.id AND gm.kind = %s
                                      AND gm.left_at IS NULL AND gm.member_id = cm.member_id
                                  WHERE g.chat_id = c.wecom_chat_id AND g.dismissed_at IS NULL)""",
            [now, *which_params, MembershipSource.WECOM, GroupMemberKind.CUSTOMER])
        left = cursor.rowcount
        cursor.execute(
            f"""UPDATE {COMMUNITY} c SET owner_id = u.id, updated_at = %s
                FROM {wecom_sql.GROUP} g
                JOIN {wecom_sql.STAFF} ws ON ws.id = g.owner_id
                JOIN {USER} u ON u.id = ws.user_id AND u.is_active AND u.role IN (%s, %s)
                WHERE g.chat_id = c.wecom_chat_id AND g.dismissed_at IS NULL AND c.wecom_chat_id <> ''{which}
                  AND u.store_id = c.store_id AND c.owner_id <> u.id""",
            [now, Role.STORE_MANAGER, Role.STORE_STAFF, *which_params])
        owners = cursor.rowcount
    return Mirrored(joined, left, owners)


def on_chat_event(event) -> None:
    """change_external_chat, after the connector applied it: the group's communities follow."""
    from wecom.services import events

    chat_id = str((event.payload or {}).get("ChatId") or "")
    ids = list(Community.objects.filter(wecom_chat_id=chat_id).values_list("pk", flat=True)) if chat_id else []
    if not ids:  # nothing here to follow: the callback's status is the connector's alone
        raise events.Ignore("no community mirrors this group")
    mirror(community_ids=ids)


def register() -> None:
    from wecom.services import events

    events.register_handler("change_external_chat", None, on_chat_event)
