"""Invitations to a community through a channel: members picked by staff (or a segment's members of
the community's store) each get a message with their own join link, and join with one tap.

Writing: `invite` makes one InvitationBatch and its Invitation rows in one INSERT ... SELECT under
the community's row lock. Only live members of the community's store whom the actor reaches and who
are not in it yet are invited; a picked member outside that is an error naming them (the selection
never widens), one with an invitation still open to the community is skipped. At most MAX_INVITE a
batch; past it nothing is written.

Sending: the Invitation rows are the outbox. `hand_over` claims unhanded ones with FOR UPDATE SKIP
LOCKED and gives each to the registered notice sender (communities.hooks: the campaigns' engine,
whose notices are marketing, so the member's consent, the frequency caps and quiet hours apply and a
suppressed delivery keeps its reason there), one notice a member because each text carries that
member's link; it marks them handed in the sender's transaction, so each is taken exactly once
(the rounds: communities.services.handing). An invitation whose batch expired before it was handed
is not sent. With no sender, they wait.

Joining: the link is `/join/<token>/`, the token Django's signing of the invitation's id (HMAC with
SECRET_KEY, salted for this use), so it cannot be made up; no login. `accept` joins the member
(source "invitation"); a second tap answers "already a member"; an expired invitation, a closed or
full community (its places counted as communities.services.wecom_groups.occupied does) refuse with
their own code and a message the member understands."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from communities import hooks
from communities.models import (
    Community,
    CommunityMembership,
    CommunityStatus,
    Invitation,
    InvitationBatch,
    MembershipSource,
)
from communities.services import access, entry, handing, wecom_groups
from members import sql as members_sql
from members.models import Member
from scrm.actors import actor_user
from scrm.errors import Conflict, InvalidInput, NotInScope
from scrm.scoping import scope

SALT = "siyu.communities.invitation"
MAX_INVITE = 1000  # members one batch invites (each is a notice of its own)
DEFAULT_DAYS = 14
MAX_DAYS = 60
MESSAGE_MAX = 300
HAND_BATCH = 50  # invitations handed per transaction (a notice each: ~20 ms apiece)
MAX_ROUNDS = 20
KIND = "invitation"  # the NoticeBatch kind of an invitation
INVITATION = Invitation._meta.db_table
BATCH = InvitationBatch._meta.db_table


def token_for(invitation_id: int) -> str:
    return signing.dumps({"i": invitation_id}, salt=SALT)


def read_token(token: str) -> int | None:
    """The invitation's id a token names, or None (made up or changed)."""
    try:
        payload = signing.loads(token or "", salt=SALT)
    except signing.BadSignature:
        return None
    value = payload.get("i") if isinstance(payload, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def join_url(invitation_id: int) -> str:
    return f"{settings.SIYU_PUBLIC_URL}{reverse('community-join', args=[token_for(invitation_id)])}"


def _pending_sql() -> str:
    """Members with an invitation to the community still open (not joined, not expired)."""
    return (f"SELECT 1 FROM {INVITATION} pi JOIN {BATCH} pb ON pb.id = pi.batch_id "
            "WHERE pi.community_id = %s AND pi.member_id = e.id AND pi.joined_at IS NULL AND pb.expires_at > %s")


def _picked_sql(community: Community, actor, member_ids) -> tuple[str, list]:
    if not isinstance(member_ids, list | tuple) or not member_ids:
        raise InvalidInput(details={"members": [_("Pick at least one member.")]})
    if any(not isinstance(i, int) or isinstance(i, bool) or i < 1 for i in member_ids):
        raise InvalidInput(details={"members": [_("Give members by their ids.")]})
    ids = sorted(set(member_ids))
    if len(ids) > MAX_INVITE:
        raise InvalidInput(details={"members": [_("At most %(max)d members at once.") % {"max": MAX_INVITE}]})
    reached = set(scope(Member.live.filter(pk__in=ids, home_store_id=community.store_id), actor)
                  .values_list("pk", flat=True))
    outside = [i for i in ids if i not in reached]
    if outside:
        raise InvalidInput(details={"members": [
            _("Not live members of %(store)s you reach: %(ids)s.")
            % {"store": community.store.name, "ids": ", ".join(map(str, outside[:20]))}]})
    sql = (f"SELECT m.id FROM {members_sql.MEMBER} m WHERE m.id = ANY(%s) AND {members_sql.live('m')} "
           f"AND NOT EXISTS (SELECT 1 FROM {entry.MEMBERSHIP} x WHERE x.community_id = %s AND x.member_id = m.id "
           "AND x.left_at IS NULL)")
    return sql, [ids, community.pk]


@dataclass(frozen=True)
class Invited:
    batch: InvitationBatch
    invited: int
    skipped: int  # picked but in the community already or invited still; of a segment: invited still


@transaction.atomic
def invite(*, community: Community, actor, member_ids=None, segment_id=None, message: str = "",
           days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> Invited:
    """Invite the picked members, or the segment's, to the community (one batch); the messages go
    out through the notice sender after the commit (communities.tasks.send_invitations)."""
    now = now or timezone.now()
    community = Community.objects.select_for_update().select_related("store").get(pk=community.pk)
    access.require_manage_community(actor, community)
    errors = {}
    if (member_ids is None) == (segment_id is None):
        errors["members"] = [_("Pick members, or give a segment (one of the two).")]
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        errors["days"] = [_("An invitation lasts 1 to %(max)d days.") % {"max": MAX_DAYS}]
    message = (message or "").strip()
    if len(message) > MESSAGE_MAX:
        errors["message"] = [_("At most %(max)d characters.") % {"max": MESSAGE_MAX}]
    if errors:
        raise InvalidInput(details=errors)
    if community.status != CommunityStatus.ACTIVE:
        raise Conflict(_("“%(name)s” is %(status)s: it takes no new members.")
                       % {"name": community.name, "status": community.get_status_display()}, code="community_closed")
    segment = None
    if segment_id is not None:
        segment = entry._segment(actor, segment_id)
        sql, params = entry._eligible_sql(community, actor, segment)
        field = "segment"
    else:
        sql, params = _picked_sql(community, actor, member_ids)
        field = "members"
    user = actor_user(actor)
    batch = InvitationBatch.objects.create(
        community=community, store_id=community.store_id, segment=segment, message=message,
        expires_at=now + dt.timedelta(days=days), created_by=user,
        created_by_label="" if user is not None else str(actor)[:100], created_at=now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS e", params)
        eligible = cursor.fetchone()[0]
        if eligible > MAX_INVITE:
            raise InvalidInput(details={field: [
                _("That would invite %(count)d members; at most %(max)d at once: narrow it.")
                % {"count": eligible, "max": MAX_INVITE}]})
        cursor.execute(
            f"""INSERT INTO {INVITATION} (batch_id, community_id, member_id, store_id, created_at, handed_to)
                SELECT %s, %s, e.id, %s, %s, '' FROM ({sql}) AS e
                WHERE NOT EXISTS ({_pending_sql()})
                ORDER BY e.id""",
            [batch.pk, community.pk, community.store_id, now, *params, community.pk, now])
        invited = cursor.rowcount
    batch.invited = invited
    batch.save(update_fields=["invited"])
    if invited:
        from communities import tasks

        transaction.on_commit(tasks.send_invitations.delay, robust=True)  # the 5-minute tick catches up
    asked = len(set(member_ids)) if segment is None else eligible  # a segment's members in already are not asked
    return Invited(batch, invited, asked - invited)


def _text(batch: InvitationBatch, community: Community, invitation_id: int) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        first = batch.message or _("You are invited to join “%(community)s” at %(store)s.") % {
            "community": community.name, "store": community.store.name}
        until = timezone.localtime(batch.expires_at).strftime("%Y-%m-%d")
        return first + " " + _("Join with one tap (until %(date)s): %(link)s") % {
            "date": until, "link": join_url(invitation_id)}


def hand_over(*, now: dt.datetime | None = None, batch: int = HAND_BATCH, max_rounds: int = MAX_ROUNDS) -> int:
    """Give waiting invitations to the registered sender, `batch` per transaction; returns how many
    were handed (expired ones are marked, not sent). Safe on several workers at once."""
    now = now or timezone.now()

    def hand(sender: hooks.NoticeSender, ids: list[int]) -> list[tuple[int, str | None]]:
        rows = Invitation.objects.filter(pk__in=ids).select_related("batch", "community__store").order_by("pk")
        refs = []
        for inv in rows:
            if inv.batch.expires_at <= now:
                refs.append((inv.pk, "expired"))
                continue
            refs.append((inv.pk, sender(hooks.NoticeBatch(
                event_id=None, store_id=inv.community.store_id, kind=KIND,
                name=f"{inv.community.name} · {_('Invitation')}"[:100],
                text=_text(inv.batch, inv.community, inv.pk),
                member_ids=(inv.member_id,), notice_ids=(inv.pk,), now=now,
                purpose="marketing",  # an invitation is not something the member asked for
                valid_until=inv.batch.expires_at))))
        return refs

    return handing.hand_over(table=INVITATION, hand=hand, now=now, batch=batch, max_rounds=max_rounds)


def find(token: str) -> Invitation | None:
    """The invitation a link names (its community and store loaded), or None."""
    invitation_id = read_token(token)
    if invitation_id is None:
        return None
    return Invitation.objects.select_related("batch", "community__store", "member").filter(pk=invitation_id).first()


@dataclass(frozen=True)
class Accepted:
    membership: CommunityMembership
    created: bool  # False: the member was in the community already


@transaction.atomic
def accept(*, invitation: Invitation, now: dt.datetime | None = None) -> Accepted:
    """The member taps "join" on their link: they join (source invitation), or learn they are in
    already; an expired invitation, a closed or full community refuse and nothing is written."""
    now = now or timezone.now()
    invitation = Invitation.objects.select_for_update().select_related("batch").get(pk=invitation.pk)
    community = Community.objects.select_for_update().get(pk=invitation.community_id)
    if not Member.live.filter(pk=invitation.member_id).exists():
        raise NotInScope(_("This invitation is no longer valid."), code="invitation_void")
    found = community.memberships.filter(member_id=invitation.member_id, left_at__isnull=True).first()
    if found is not None:
        return Accepted(found, False)
    if invitation.batch.expires_at <= now:
        raise Conflict(_("This invitation expired on %(date)s. Ask the store for a new one.")
                       % {"date": timezone.localtime(invitation.batch.expires_at).strftime("%Y-%m-%d")},
                       code="invitation_expired")
    if community.status != CommunityStatus.ACTIVE:
        raise Conflict(_("“%(name)s” is not taking new members at the moment.") % {"name": community.name},
                       code="community_closed")
    if community.capacity is not None and wecom_groups.occupied(community) >= community.capacity:
        raise Conflict(_("Sorry, “%(name)s” is full (%(capacity)d members). The store can tell you when a place "
                         "is free.") % {"name": community.name, "capacity": community.capacity},
                       code="community_full")
    try:
        with transaction.atomic():
            membership = CommunityMembership.objects.create(community=community, member_id=invitation.member_id,
                                                            source=MembershipSource.INVITATION, joined_at=now)
    except IntegrityError:
        return Accepted(community.memberships.get(member_id=invitation.member_id, left_at__isnull=True), False)
    Invitation.objects.filter(pk=invitation.pk).update(joined_at=now)
    return Accepted(membership, True)
