"""Rights per level: benefits, who holds them (grants, set-based), early access to launches, and the
templates mentors share with their mentees.

Every active creator holds every active benefit of their level's rank or below; a grant is revoked
when that stops being true (a level lost, the creator paused or gone, the benefit switched off or
moved up). A community benefit also makes the holder's member a member of its community (joined
with source "api"); when the grant is revoked, that membership is left if it was the one the
benefit made (source "api") and no other held benefit gives the same community."""

from __future__ import annotations

import datetime
import logging

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Community, CommunityMembership, MembershipSource
from communities.services import communities as community_services
from koc.models import (
    Benefit,
    BenefitGrant,
    BenefitKind,
    Creator,
    CreatorStatus,
    Launch,
    Level,
    MentorTemplate,
    Platform,
)
from scrm import permissions
from scrm.actors import SystemActor
from scrm.errors import Conflict, Forbidden, InvalidInput, ServiceError

logger = logging.getLogger(__name__)

RESOURCE = "koc_programme"
CREATOR = Creator._meta.db_table
BENEFIT = Benefit._meta.db_table
GRANT = BenefitGrant._meta.db_table
LEVEL = Level._meta.db_table
EARLY_DAYS_MAX = 60
SHARE_REPEAT_WINDOW = datetime.timedelta(minutes=1)

_HELD_SQL = f"""
    SELECT c.id AS creator_id, b.id AS benefit_id
    FROM {CREATOR} c
    JOIN {LEVEL} lc ON lc.id = c.level_id
    JOIN {LEVEL} lb ON lb.rank <= lc.rank
    JOIN {BENEFIT} b ON b.level_id = lb.id AND b.active
    WHERE c.status = 'active' {{some}}
"""

_REVOKE_SQL = f"""
    UPDATE {GRANT} g SET revoked_at = %(now)s
    WHERE g.revoked_at IS NULL {{some_g}}
      AND NOT EXISTS (SELECT 1 FROM ({_HELD_SQL.format(some="AND c.id = g.creator_id")}) h
                      WHERE h.benefit_id = g.benefit_id)
    RETURNING g.creator_id, g.benefit_id
"""

_GRANT_SQL = f"""
    INSERT INTO {GRANT} (creator_id, benefit_id, granted_at, run_id)
    SELECT h.creator_id, h.benefit_id, %(now)s, %(run)s
    FROM ({_HELD_SQL.format(some="{some}")}) h
    WHERE NOT EXISTS (SELECT 1 FROM {GRANT} g
                      WHERE g.creator_id = h.creator_id AND g.benefit_id = h.benefit_id AND g.revoked_at IS NULL)
    ORDER BY h.creator_id, h.benefit_id
    ON CONFLICT DO NOTHING
    RETURNING creator_id, benefit_id
"""


# --- grants ---------------------------------------------------------------------------------------


@transaction.atomic
def sync_grants(*, run=None, creator_ids=None) -> tuple[int, int]:
    """Grant and revoke benefits so grants match levels (everyone, or `creator_ids`): (granted,
    revoked). Set-based; only the community benefits that changed are joined or left one by one."""
    now = timezone.now()
    params = {"now": now, "run": getattr(run, "pk", None), "ids": list(creator_ids or [])}
    some = "AND c.id = ANY(%(ids)s)" if creator_ids is not None else ""
    some_g = "AND g.creator_id = ANY(%(ids)s)" if creator_ids is not None else ""
    if creator_ids is not None and not params["ids"]:
        return 0, 0
    with connection.cursor() as cursor:
        cursor.execute(_REVOKE_SQL.format(some_g=some_g), params)
        revoked = cursor.fetchall()
        cursor.execute(_GRANT_SQL.format(some=some), params)
        granted = cursor.fetchall()
    _follow_communities(granted, revoked)
    return len(granted), len(revoked)


def _community_benefits(pairs) -> dict[int, int]:
    ids = {benefit_id for _creator, benefit_id in pairs}
    if not ids:
        return {}
    return dict(Benefit.objects.filter(pk__in=ids, kind=BenefitKind.COMMUNITY, community__isnull=False)
                .values_list("pk", "community_id"))


def _follow_communities(granted, revoked) -> None:
    """Join the members who gained a community benefit to its community; leave those who lost it."""
    joins = _community_benefits(granted)
    leaves = _community_benefits(revoked)
    if not joins and not leaves:
        return
    system = SystemActor("koc:rights")
    member_of = dict(Creator.objects.filter(
        pk__in={c for c, b in [*granted, *revoked] if b in joins or b in leaves}).values_list("pk", "member_id"))
    communities = Community.objects.in_bulk({*joins.values(), *leaves.values()})
    for creator_id, benefit_id in granted:
        community = communities.get(joins.get(benefit_id))
        if community is None:
            continue
        try:
            community_services.join(community=community, member_id=member_of[creator_id], actor=system,
                                    source=MembershipSource.API)
        except ServiceError as exc:  # full or archived: the grant stands, the screens show who is not in
            logger.warning("KOC benefit %s: creator %s not joined to community %s: %s", benefit_id, creator_id,
                           community.pk, exc.message)
    for creator_id, benefit_id in revoked:
        community_id = leaves.get(benefit_id)
        if community_id is None or _still_gives(creator_id, community_id):
            continue
        membership = CommunityMembership.objects.filter(
            community_id=community_id, member_id=member_of[creator_id], left_at__isnull=True,
            source=MembershipSource.API).first()
        if membership is not None:
            community_services.leave(membership=membership, actor=system)


def _still_gives(creator_id: int, community_id: int) -> bool:
    return BenefitGrant.objects.filter(creator_id=creator_id, revoked_at__isnull=True, benefit__active=True,
                                       benefit__kind=BenefitKind.COMMUNITY, benefit__community_id=community_id).exists()


def held(creator: Creator):
    """The benefits a creator holds now (open grants), lowest level first."""
    return (BenefitGrant.objects.filter(creator=creator, revoked_at__isnull=True)
            .select_related("benefit", "benefit__level").order_by("benefit__level__rank", "benefit__name"))


# --- benefits -------------------------------------------------------------------------------------


def _benefit_errors(*, level_id, kind, name, description, early_days, community_id) -> dict:
    errors: dict = {}
    if not Level.objects.filter(pk=level_id).exists():
        errors["level_id"] = [_("No level with the id %(id)s.") % {"id": level_id}]
    if kind not in BenefitKind.values:
        errors["kind"] = [_("Unknown kind “%(kind)s”; one of %(kinds)s.")
                          % {"kind": kind, "kinds": ", ".join(BenefitKind.values)}]
    if not isinstance(name, str) or not name.strip():
        errors["name"] = [_("A name is needed.")]
    elif len(name.strip()) > 80:
        errors["name"] = [_("At most 80 characters.")]
    if not isinstance(description, str) or len(description) > 4000:
        errors["description"] = [_("Text of at most 4,000 characters.")]
    if kind == BenefitKind.EARLY_ACCESS:
        if isinstance(early_days, bool) or not isinstance(early_days, int) or not 1 <= early_days <= EARLY_DAYS_MAX:
            errors["early_days"] = [_("Early access needs how many days before the public date creators may buy: "
                                      "1 to %(max)d.") % {"max": EARLY_DAYS_MAX}]
    elif early_days is not None:
        errors["early_days"] = [_("Only an early-access benefit has days before the public date.")]
    if kind == BenefitKind.COMMUNITY:
        if community_id is None:
            errors["community_id"] = [_("A community benefit needs the community its holders join.")]
        elif not Community.objects.filter(pk=community_id).exists():
            errors["community_id"] = [_("No community with the id %(id)s.") % {"id": community_id}]
    elif community_id is not None:
        errors["community_id"] = [_("Only a community benefit has a community.")]
    return errors


@transaction.atomic
def save_benefit(*, actor, level_id: int, kind: str, name: str, description: str = "", early_days=None,
                 community_id=None, active: bool = True, benefit: Benefit | None = None) -> Benefit:
    """Add a benefit (or edit `benefit`), then bring grants in line with it at once."""
    permissions.require_write(actor, RESOURCE)
    errors = _benefit_errors(level_id=level_id, kind=kind, name=name, description=description,
                             early_days=early_days, community_id=community_id)
    if not errors and Benefit.objects.filter(level_id=level_id, name=name.strip()).exclude(
            pk=getattr(benefit, "pk", None)).exists():
        errors["name"] = [_("This level already has a benefit named “%(name)s”.") % {"name": name.strip()}]
    if errors:
        raise InvalidInput(details=errors)
    values = {"level_id": level_id, "kind": kind, "name": name.strip(), "description": description,
              "early_days": early_days, "community_id": community_id, "active": bool(active)}
    if benefit is None:
        benefit = Benefit.objects.create(**values)
    else:
        Benefit.objects.filter(pk=benefit.pk).update(**values)
        benefit.refresh_from_db()
    sync_grants()
    return benefit


@transaction.atomic
def delete_benefit(*, actor, benefit: Benefit) -> None:
    """Remove a benefit nobody ever held; one that was granted is switched off instead (active False)."""
    permissions.require_write(actor, RESOURCE)
    if BenefitGrant.objects.filter(benefit=benefit).exists():
        raise Conflict(_("“%(name)s” has been held by creators, so its history keeps it: switch it off instead.")
                       % {"name": benefit.name}, code="benefit_held")
    benefit.delete()


# --- launches and early access --------------------------------------------------------------------


@transaction.atomic
def save_launch(*, actor, name: str, public_at: datetime.datetime, description: str = "",
                launch: Launch | None = None) -> Launch:
    permissions.require_write(actor, RESOURCE)
    errors = {}
    if not isinstance(name, str) or not name.strip():
        errors["name"] = [_("A name is needed.")]
    elif len(name.strip()) > 120:
        errors["name"] = [_("At most 120 characters.")]
    if not isinstance(public_at, datetime.datetime) or timezone.is_naive(public_at):
        errors["public_at"] = [_("A date and time with its time zone is needed.")]
    if not isinstance(description, str) or len(description) > 4000:
        errors["description"] = [_("Text of at most 4,000 characters.")]
    if errors:
        raise InvalidInput(details=errors)
    values = {"name": name.strip(), "public_at": public_at, "description": description}
    if launch is None:
        return Launch.objects.create(**values)
    Launch.objects.filter(pk=launch.pk).update(**values)
    launch.refresh_from_db()
    return launch


@transaction.atomic
def delete_launch(*, actor, launch: Launch) -> None:
    permissions.require_write(actor, RESOURCE)
    launch.delete()


def _early_grants():
    return BenefitGrant.objects.filter(revoked_at__isnull=True, benefit__active=True,
                                       benefit__kind=BenefitKind.EARLY_ACCESS, creator__status=CreatorStatus.ACTIVE)


def early_days_of(creator_id: int) -> int | None:
    """The most days before a launch's public date the creator may buy (None: no early access)."""
    return _early_grants().filter(creator_id=creator_id).aggregate(days=Max("benefit__early_days"))["days"]


def can_buy_early(*, member, launch: Launch, at: datetime.datetime | None = None) -> bool:
    """Whether `member` may buy `launch` at `at` (now): anyone once it is public; before that, an
    active creator holding early access of at least the days left until the public date."""
    at = at or timezone.now()
    if at >= launch.public_at:
        return True
    creator_id = Creator.objects.filter(member_id=getattr(member, "pk", member)).values_list("pk", flat=True).first()
    if creator_id is None:
        return False
    days = early_days_of(creator_id)
    return days is not None and launch.public_at - at <= datetime.timedelta(days=days)


def early_access_list(launch: Launch, *, actor=None):
    """The creators who may buy `launch` before the public, each with `early_days` (their most) and
    `opens_at` (when they may buy), earliest first. Scoped to `actor` when given (the screens pass it)."""
    days = (_early_grants().values("creator_id").annotate(days=Max("benefit__early_days")))
    by_creator = {row["creator_id"]: row["days"] for row in days}
    creators = Creator.objects.filter(pk__in=list(by_creator)).select_related("member", "level")
    if actor is not None:
        creators = creators.visible_to(actor)
    rows = []
    for creator in creators:
        creator.early_days = by_creator[creator.pk]
        creator.opens_at = launch.public_at - datetime.timedelta(days=creator.early_days)
        rows.append(creator)
    return sorted(rows, key=lambda c: (c.opens_at, c.pk))


# --- mentors --------------------------------------------------------------------------------------


def is_mentor(creator: Creator) -> bool:
    return creator.status == CreatorStatus.ACTIVE and BenefitGrant.objects.filter(
        creator=creator, revoked_at__isnull=True, benefit__active=True, benefit__kind=BenefitKind.MENTOR).exists()


def can_share_for(actor, mentor: Creator) -> bool:
    """Staff (or a key) who may write creators and reach the mentor's store share on the mentor's behalf."""
    return (permissions.has_scope(actor, "koc_creators:write")
            and Creator.objects.visible_to(actor).filter(pk=mentor.pk).exists())


@transaction.atomic
def share_template(*, mentor: Creator, actor, title: str, body: str, platform: str = "") -> MentorTemplate:
    """A mentor's template for their mentees, recorded by staff on the mentor's behalf. Only a
    creator holding an active mentor benefit may share. The same title, body and platform shared
    again within a minute answers the first template instead of adding a copy."""
    if not can_share_for(actor, mentor):
        raise Forbidden(_("Only staff who manage this creator may share templates for them."),
                        details={"scope": ["koc_creators:write"]})
    errors = {}
    if not is_mentor(mentor):
        errors["mentor"] = [_("%(name)s does not hold the mentor role, so cannot share templates.")
                            % {"name": mentor}]
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 120:
        errors["title"] = [_("A title of 1 to 120 characters is needed.")]
    if not isinstance(body, str) or not body.strip() or len(body) > 8000:
        errors["body"] = [_("A body of 1 to 8,000 characters is needed.")]
    if platform and platform not in Platform.values:
        errors["platform"] = [_("Unknown platform “%(p)s”.") % {"p": platform}]
    if errors:
        raise InvalidInput(details=errors)
    Creator.objects.select_for_update().filter(pk=mentor.pk).first()  # one share at a time per mentor
    values = {"mentor": mentor, "title": title.strip(), "body": body, "platform": platform or ""}
    same = (MentorTemplate.objects.filter(**values, created_at__gte=timezone.now() - SHARE_REPEAT_WINDOW)
            .order_by("-created_at", "-id").first())
    if same is not None:  # the same share sent twice (a double tap, a retried form): the first answers
        return same
    return MentorTemplate.objects.create(**values)


def templates_for(creator: Creator):
    """The templates of the creator's mentor, newest first (none without a mentor)."""
    if creator.mentor_id is None:
        return MentorTemplate.objects.none()
    return MentorTemplate.objects.filter(mentor_id=creator.mentor_id).order_by("-created_at", "-id")
