"""Check-in at the door, from several staff phones at once.

A member is found by their ticket code (scanned or typed) or, for someone who did not sign up, by
their member id among the members the staff member reaches. The check-in is one INSERT ... ON
CONFLICT (event, member) DO NOTHING RETURNING: the first phone's insert wins; any other (a second
door, a double tap) waits for it, inserts nothing and answers who checked the member in and when.
The first check-in marks the sign-up attended and gives the member the event's attendance tag, in
the same transaction. Someone with no seat follows the event's walk-in rule."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import CheckIn, CheckInSource, Event, EventStatus, SignUp, SignUpState
from communities.services import access
from members.models import Member, Tag, TagSource
from members.services import tags as tag_services
from scrm import actors, events
from scrm.errors import Conflict, InvalidInput, NotInScope
from scrm.scoping import scope

CHECKIN = CheckIn._meta.db_table
CHECKED_IN = "event.checked_in"
SEATED = (SignUpState.CONFIRMED, SignUpState.OFFERED, SignUpState.ATTENDED)


class WalkInRefused(Conflict):
    code = "walk_in_refused"


@dataclass(frozen=True)
class CheckInResult:
    checkin: CheckIn
    created: bool  # False: the member was already checked in (checkin says when and by whom)


def _find(event: Event, *, code: str | None, member_id: int | None, actor) -> tuple[Member, SignUp | None]:
    if code:
        signup = (SignUp.objects.select_related("member").filter(event=event, code=code.strip().upper())
                  .exclude(state__in=[SignUpState.CANCELLED, SignUpState.EXPIRED]).first())
        if signup is None:
            cancelled = SignUp.objects.filter(event=event, code=code.strip().upper()).first()
            if cancelled is None:
                raise NotInScope(_("No ticket %(code)s for this event.") % {"code": code}, details={"code": [code]})
            return cancelled.member, None
        return signup.member, signup
    member = scope(Member.live.filter(pk=member_id), actor).first()
    if member is None:
        raise NotInScope(_("No such member, or not yours to reach."), details={"member": [member_id]})
    signup = SignUp.objects.filter(event=event, member=member).exclude(
        state__in=[SignUpState.CANCELLED, SignUpState.EXPIRED]).first()
    return member, signup


def check_in(*, event: Event, actor, source: str, code: str | None = None, member_id: int | None = None,
             device: str = "") -> CheckInResult:
    """Check a member in at `event` by ticket `code` or `member_id`; safe to repeat and to run from
    several phones at once."""
    errors = {}
    if source not in CheckInSource.values:
        errors["source"] = [_("Unknown source “%(source)s”.") % {"source": source}]
    if bool(code) == (member_id is not None):
        errors["code"] = [_("Give either a ticket code or a member id.")]
    if len(device or "") > 64:
        errors["device"] = [_("At most 64 characters.")]
    if errors:
        raise InvalidInput(details=errors)
    access.require_check_in(actor, event)
    event.refresh_from_db(fields=["status", "walk_ins_allowed", "attendance_tag"])
    if event.status != EventStatus.OPEN:
        raise Conflict(_("The event is cancelled."), code="event_cancelled")
    member, signup = _find(event, code=code, member_id=member_id, actor=actor)
    seated = signup is not None and signup.state in SEATED
    if not seated:
        already = CheckIn.objects.filter(event=event, member=member).select_related("staff").first()
        if already is not None:
            return CheckInResult(already, False)
        if not event.walk_ins_allowed:
            raise WalkInRefused(
                _("%(name)s has no seat (%(state)s) and this event takes no walk-ins.")
                % {"name": member.name, "state": signup.get_state_display() if signup else _("not signed up")},
                details={"member": [member.pk]})
    user = actors.actor_user(actor)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {CHECKIN} (event_id, member_id, store_id, signup_id, walk_in, staff_id, staff_label,
                device, source, at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (event_id, member_id) DO NOTHING RETURNING id""",
            [event.pk, member.pk, event.store_id, signup.pk if seated else None, not seated,
             getattr(user, "pk", None), actors.actor_label(actor), device or "", source, timezone.now()],
        )
        row = cursor.fetchone()
        if row is None:
            return CheckInResult(CheckIn.objects.select_related("staff").get(event=event, member=member), False)
        after_first(event, member, signup if seated else None, source=source, actor=actor)
    return CheckInResult(CheckIn.objects.select_related("staff").get(pk=row[0]), True)


def after_first(event: Event, member: Member, signup: SignUp | None, *, source: str, actor) -> None:
    """What a member's first check-in at an event does, in its transaction: the event for webhooks,
    the sign-up attended, the attendance tag."""
    # Before the attendance tag's event: a receiver hears the check-in first.
    events.emit(CHECKED_IN, member_id=member.pk, store_id=member.home_store_id, data={
        "event": {"id": event.pk, "name": event.title},
        "community": {"id": event.community_id} if event.community_id else None,
        "source": source, "walk_in": signup is None,
    })
    if signup is not None:
        SignUp.objects.filter(pk=signup.pk, state__in=[SignUpState.CONFIRMED, SignUpState.OFFERED]).update(
            state=SignUpState.ATTENDED, offer_expires_at=None)
    if event.attendance_tag_id:
        tag = Tag.objects.select_related("group").get(pk=event.attendance_tag_id)
        tag_services.apply_pairs([(member.pk, tag)], actor=actor, source=TagSource.BULK)


def answer(result: CheckInResult) -> str:
    """What the phone says, in words."""
    c = result.checkin
    who = actors.stored_actor_display(c.staff, c.staff_label) or _("someone")
    at = timezone.localtime(c.at).strftime("%H:%M:%S")
    if result.created:
        return _("Checked in at %(at)s.") % {"at": at} if not c.walk_in else _("Checked in as a walk-in at %(at)s.") % {
            "at": at}
    where = f" ({c.device})" if c.device else ""
    return _("Already checked in at %(at)s by %(who)s%(where)s.") % {"at": at, "who": who, "where": where}
