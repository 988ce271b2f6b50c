"""Creators: members apply (or staff propose them from the candidates list), a manager or operator
approves or rejects, an operator may admit a member directly; creators' status, mentor and bio,
and their accounts on the platforms.

Who: koc_creators:write (store managers within their store, operators, keys); clerks read only.
Direct admission is for brand-wide actors (operators). One pending application per member; a
member who is a creator (and has not left) cannot apply. A creator who left and applies again is
made active again on approval, with their history kept.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from koc.models import Account, Application, ApplicationState, Creator, CreatorStatus, Platform
from koc.services import links
from members.models import Member
from scrm import actors
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.permissions import is_brand_wide, require_write
from scrm.scoping import scope

CREATOR_FIELDS = ("status", "mentor", "bio")
ACCOUNT_FIELDS = ("handle", "url", "followers")
MAX_FOLLOWERS = 2_000_000_000  # Account.followers is a positive integer


def visible_creator(actor, creator, *, lock: bool = False) -> Creator:
    """The creator (an object or an id) among those `actor` reaches, or NotInScope."""
    pk = getattr(creator, "pk", creator)
    queryset = scope(Creator.objects.all(), actor).filter(pk=pk)
    found = (queryset.select_for_update(of=("self",)) if lock else queryset.select_related("member", "level")).first()
    if found is None:
        raise NotInScope(_("No such creator, or not yours to reach."), details={"creator": [pk]})
    return found


def _member(actor, member_id) -> Member:
    member = scope(Member.live.all(), actor).filter(pk=member_id).first() if str(member_id).isdigit() else None
    if member is None:
        raise NotInScope(_("No such member, or not yours to reach."), details={"member": [member_id]})
    return member


def _platforms(values, errors: dict) -> list[str]:
    if isinstance(values, str) or not isinstance(values, list | tuple | set | frozenset):
        errors["platforms"] = [_("A list of platforms.")]
        return []
    unknown = [str(v) for v in values if v not in Platform.values]
    if unknown:
        errors["platforms"] = [_("Unknown platforms: %(names)s.") % {"names": ", ".join(unknown)}]
    return sorted({str(v) for v in values}, key=Platform.values.index) if not unknown else []


def _pending_conflict(application_id) -> Conflict:
    return Conflict(_("The member already has an application waiting for a decision (application %(id)s).")
                    % {"id": application_id}, code="application_pending",
                    details={"member": [_("Application %(id)s is pending.") % {"id": application_id}],
                             "application": application_id})


def _already_creator(creator: Creator) -> Conflict:
    return Conflict(_("%(name)s is already a creator.") % {"name": creator.member.name}, code="already_creator",
                    details={"member": [_("Creator %(id)s.") % {"id": creator.pk}], "creator": creator.pk})


def _current_creator(member: Member) -> Creator | None:
    return Creator.objects.select_related("member").filter(member=member).exclude(status=CreatorStatus.LEFT).first()


@transaction.atomic
def apply(*, member_id, actor, motivation="", platforms=(), proposed=False, score=None) -> Application:
    """A member's application to join (`proposed`: staff propose them, e.g. from the candidates
    list, with their candidate `score`)."""
    require_write(actor, "koc_creators")
    member = _member(actor, member_id)
    errors: dict = {}
    motivation = (motivation or "").strip()
    if len(motivation) > 2000:
        errors["motivation"] = [_("At most 2,000 characters.")]
    platforms = _platforms(platforms, errors)
    if errors:
        raise InvalidInput(details=errors)
    if (creator := _current_creator(member)) is not None:
        raise _already_creator(creator)
    pending = Application.objects.filter(member=member, state=ApplicationState.PENDING).values_list("pk", flat=True)
    if (found := pending.first()) is not None:
        raise _pending_conflict(found)
    try:
        with transaction.atomic():
            return Application.objects.create(
                member=member, motivation=motivation, platforms=platforms, score=score,
                proposed_by=actors.actor_user(actor) if proposed else None)
    except IntegrityError:  # another application arrived between the check and the insert
        raise _pending_conflict(pending.first()) from None


def _mentor(actor, mentor_id, *, creator_id=None) -> Creator | None:
    if mentor_id is None:
        return None
    mentor_pk = getattr(mentor_id, "pk", mentor_id)
    if creator_id is not None and mentor_pk == creator_id:
        raise InvalidInput(details={"mentor": [_("A creator cannot be their own mentor.")]})
    mentor = scope(Creator.objects.all(), actor).filter(pk=mentor_pk).first() if str(mentor_pk).isdigit() else None
    if mentor is None or mentor.status == CreatorStatus.LEFT:
        raise InvalidInput(details={"mentor": [_("No active creator %(id)s among yours.") % {"id": mentor_pk}]})
    return mentor


def _admit(member: Member, *, actor, mentor: Creator | None, bio: str = "") -> Creator:
    """Make `member` a creator (again, if they left), approved by `actor`."""
    now = timezone.now()
    creator = Creator.objects.select_for_update().filter(member=member).first()
    if creator is None:
        try:
            with transaction.atomic():
                return Creator.objects.create(member=member, mentor=mentor, bio=bio, joined_at=now,
                                              approved_by=actors.actor_user(actor))
        except IntegrityError:
            creator = Creator.objects.select_for_update().get(member=member)
    if creator.status != CreatorStatus.LEFT:
        raise _already_creator(creator)
    creator.status, creator.left_at, creator.joined_at = CreatorStatus.ACTIVE, None, now
    creator.approved_by = actors.actor_user(actor)
    creator.mentor = mentor
    if bio:
        creator.bio = bio
    creator.save()
    return creator


def _locked_application(actor, application) -> Application:
    pk = getattr(application, "pk", application)
    found = scope(Application.objects.all(), actor).filter(pk=pk).select_for_update(of=("self",)).first()
    if found is None:
        raise NotInScope(_("No such application, or not yours to reach."), details={"application": [pk]})
    return found


@transaction.atomic
def approve(*, application, actor, mentor_id=None) -> Creator:
    """Approve a pending application: the member becomes a creator. Approving it again answers the
    creator it made; a rejected one cannot be approved."""
    require_write(actor, "koc_creators")
    application = _locked_application(actor, application)
    if application.state == ApplicationState.APPROVED:
        creator = Creator.objects.filter(member_id=application.member_id).first()
        if creator is not None:
            return creator
    if application.state != ApplicationState.PENDING:
        raise Conflict(_("This application was %(state)s.") % {"state": application.get_state_display().lower()},
                       code="application_decided", details={"application": application.pk})
    member = Member.objects.get(pk=application.member_id)
    if not member.is_live:
        raise Conflict(_("This profile was merged or erased."), code="member_gone", details={"member": [member.pk]})
    mentor = _mentor(actor, mentor_id)
    creator = _admit(member, actor=actor, mentor=mentor)
    application.state, application.decided_by, application.decided_at = (
        ApplicationState.APPROVED, actors.actor_user(actor), timezone.now())
    application.save(update_fields=["state", "decided_by", "decided_at"])
    return creator


@transaction.atomic
def reject(*, application, actor, reason) -> Application:
    """Reject a pending application, saying why (the member may apply again later)."""
    require_write(actor, "koc_creators")
    application = _locked_application(actor, application)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInput(details={"reason": [_("Say why, for the member and the next reviewer.")]})
    if len(reason) > 280:
        raise InvalidInput(details={"reason": [_("At most 280 characters.")]})
    if application.state == ApplicationState.REJECTED:
        return application
    if application.state != ApplicationState.PENDING:
        raise Conflict(_("This application was %(state)s.") % {"state": application.get_state_display().lower()},
                       code="application_decided", details={"application": application.pk})
    application.state, application.reason = ApplicationState.REJECTED, reason
    application.decided_by, application.decided_at = actors.actor_user(actor), timezone.now()
    application.save(update_fields=["state", "reason", "decided_by", "decided_at"])
    return application


@transaction.atomic
def admit(*, member_id, actor, mentor_id=None, bio="") -> Creator:
    """An operator admits a member directly; a pending application of theirs is approved with it."""
    require_write(actor, "koc_creators")
    if not is_brand_wide(actor):
        raise Forbidden(_("Only operators admit creators directly; store managers approve applications."))
    member = _member(actor, member_id)
    bio = (bio or "").strip()
    if len(bio) > 280:
        raise InvalidInput(details={"bio": [_("At most 280 characters.")]})
    mentor = _mentor(actor, mentor_id)
    creator = _admit(member, actor=actor, mentor=mentor, bio=bio)
    Application.objects.filter(member=member, state=ApplicationState.PENDING).update(
        state=ApplicationState.APPROVED, decided_by=actors.actor_user(actor), decided_at=timezone.now())
    return creator


@transaction.atomic
def update_creator(*, creator, actor, **values) -> Creator:
    """Change a creator's status (active, paused, left), mentor (another active creator, or None)
    or bio."""
    unknown = set(values) - set(CREATOR_FIELDS)
    if unknown:
        raise TypeError(f"update_creator() got unknown fields {sorted(unknown)}")
    require_write(actor, "koc_creators")
    creator = visible_creator(actor, creator, lock=True)
    errors: dict = {}
    if "status" in values and values["status"] not in CreatorStatus.values:
        errors["status"] = [_("Unknown status “%(status)s”.") % {"status": values["status"]}]
    if "bio" in values:
        values["bio"] = (values["bio"] or "").strip() if isinstance(values["bio"], str | None) else values["bio"]
        if not isinstance(values["bio"], str) or len(values["bio"]) > 280:
            errors["bio"] = [_("Text of at most 280 characters.")]
    if "mentor" in values:
        try:
            values["mentor"] = _mentor(actor, values["mentor"], creator_id=creator.pk)
        except InvalidInput as exc:
            errors.update(exc.details)
    if errors:
        raise InvalidInput(details=errors)
    if "status" in values and values["status"] != creator.status:
        creator.left_at = timezone.now() if values["status"] == CreatorStatus.LEFT else None
    for name, value in values.items():
        setattr(creator, name, value)
    creator.save()
    return visible_creator(actor, creator)


def _account_errors(values: dict, platform: str | None) -> dict:
    errors = {}
    if "handle" in values:
        handle = values["handle"].strip() if isinstance(values["handle"], str) else ""
        if not handle or len(handle) > 80:
            errors["handle"] = [_("The account's name or id, 1 to 80 characters.")]
        values["handle"] = handle
    if values.get("url"):
        url = values["url"].strip() if isinstance(values["url"], str) else ""
        try:
            URLValidator(schemes=["http", "https"])(url)
            if len(url) > 500:
                raise ValidationError("too long")
        except ValidationError:
            errors["url"] = [_("A web link (http:// or https://) of at most 500 characters.")]
        else:
            if links.platform_of_host(urlsplit(url).hostname or "") != platform:
                errors["url"] = [_("This is not a %(platform)s link.") % {"platform": Platform(platform).label}]
        values["url"] = url
    if "followers" in values:
        followers = values["followers"]
        if isinstance(followers, bool) or not isinstance(followers, int) or not 0 <= followers <= MAX_FOLLOWERS:
            errors["followers"] = [_("A whole number from 0 to %(max)s.") % {"max": MAX_FOLLOWERS}]
    return errors


def _account_conflict(platform: str, handle: str, creator_id: int) -> Conflict:
    taken = Account.objects.filter(platform=platform, handle=handle).values_list("pk", "creator_id").first()
    if taken is not None:
        return Conflict(_("The %(platform)s account %(handle)s belongs to a creator already.") % {
            "platform": Platform(platform).label, "handle": handle}, code="account_taken",
            details={"handle": [_("Already recorded (account %(id)s).") % {"id": taken[0]}]})
    return Conflict(_("The creator already has a %(platform)s account.") % {"platform": Platform(platform).label},
                    code="account_exists", details={"platform": [_("One account per platform.")]})


@transaction.atomic
def add_account(*, creator, actor, platform, handle, url="", followers=0) -> Account:
    require_write(actor, "koc_creators")
    creator = visible_creator(actor, creator, lock=True)
    if platform not in Platform.values:
        raise InvalidInput(details={"platform": [_("Unknown platform “%(platform)s”.") % {"platform": platform}]})
    values = {"handle": handle, "url": url, "followers": followers}
    if errors := _account_errors(values, platform):
        raise InvalidInput(details=errors)
    if Account.objects.filter(creator=creator, platform=platform).exists() or \
            Account.objects.filter(platform=platform, handle=values["handle"]).exists():
        raise _account_conflict(platform, values["handle"], creator.pk)
    try:
        with transaction.atomic():
            return Account.objects.create(creator=creator, platform=platform, followers_at=timezone.now(), **values)
    except IntegrityError:
        raise _account_conflict(platform, values["handle"], creator.pk) from None


def _visible_account(actor, account) -> Account:
    pk = getattr(account, "pk", account)
    found = scope(Account.objects.all(), actor).filter(pk=pk).select_for_update(of=("self",)).first()
    if found is None:
        raise NotInScope(_("No such account, or not yours to reach."), details={"account": [pk]})
    return found


@transaction.atomic
def update_account(*, account, actor, **values) -> Account:
    """Change an account's handle, profile link or follower count (counted now)."""
    unknown = set(values) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"update_account() got unknown fields {sorted(unknown)}")
    require_write(actor, "koc_creators")
    account = _visible_account(actor, account)
    if errors := _account_errors(values, account.platform):
        raise InvalidInput(details=errors)
    if "handle" in values and Account.objects.filter(platform=account.platform, handle=values["handle"]) \
            .exclude(pk=account.pk).exists():
        raise _account_conflict(account.platform, values["handle"], account.creator_id)
    for name, value in values.items():
        setattr(account, name, value)
    if "followers" in values:
        account.followers_at = timezone.now()
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        raise _account_conflict(account.platform, values["handle"], account.creator_id) from None
    return account


@transaction.atomic
def remove_account(*, account, actor) -> None:
    require_write(actor, "koc_creators")
    _visible_account(actor, account).delete()
