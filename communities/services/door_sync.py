"""Scans a door phone made without a connection, synced later as one batch.

Each scan carries its own time (`at`, when the phone scanned it). A member checked in by two scans
(two phones, or one offline and one online) keeps the earlier scan as the check-in: first scan
wins by the scans' own times, whatever order they reach the server in. The scan that lost is kept
as a ScanConflict beside the check-in and answered as a conflict, so nothing scanned is lost and
the door sees who was first. The same scan sent twice (same time, same phone) is the same scan:
answered as already recorded, no conflict. Every scan is decided under the check-in's row lock
(or the unique (event, member) insert), so batches from several phones at once agree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import CheckIn, CheckInSource, Event, EventStatus, ScanConflict
from communities.services import access, checkins
from scrm import actors
from scrm.errors import Conflict, InvalidInput, ServiceError

CHECKIN = CheckIn._meta.db_table
MAX_SCANS = 500  # scans per batch; a phone with more sends several
AHEAD = dt.timedelta(minutes=5)  # a phone's clock may run this far ahead of the server's
EARLY = dt.timedelta(hours=24)  # scans from this long before the start count


@dataclass(frozen=True)
class Scan:
    at: dt.datetime
    source: str = CheckInSource.SCAN
    code: str | None = None
    member_id: int | None = None
    device: str = ""


@dataclass
class ScanOutcome:
    index: int
    outcome: str  # checked_in, already (the same scan again), earlier_kept, replaced, refused
    message: str
    checkin: CheckIn | None = None


def _check(scans: list[Scan], event: Event, now: dt.datetime) -> None:
    if not scans:
        raise InvalidInput(details={"scans": [_("Send at least one scan.")]})
    if len(scans) > MAX_SCANS:
        raise InvalidInput(details={"scans": [_("At most %(max)d scans at once.") % {"max": MAX_SCANS}]})
    errors = {}
    for i, scan in enumerate(scans):
        if scan.source not in CheckInSource.values:
            errors[f"scans[{i}].source"] = [_("Unknown source “%(source)s”.") % {"source": scan.source}]
        if bool(scan.code) == (scan.member_id is not None):
            errors[f"scans[{i}].code"] = [_("Give either a ticket code or a member id.")]
        if len(scan.device or "") > 64:
            errors[f"scans[{i}].device"] = [_("At most 64 characters.")]
        if scan.at > now + AHEAD:
            errors[f"scans[{i}].at"] = [_("The scan's time is in the future; check the phone's clock.")]
        elif scan.at < event.starts_at - EARLY:
            errors[f"scans[{i}].at"] = [_("The scan's time is more than a day before the event.")]
    if errors:
        raise InvalidInput(details=errors)


def _when(checkin: CheckIn) -> str:
    who = actors.stored_actor_display(checkin.staff, checkin.staff_label) or _("someone")
    where = f" ({checkin.device})" if checkin.device else ""
    return _("%(at)s by %(who)s%(where)s") % {"at": timezone.localtime(checkin.at).strftime("%H:%M:%S"),
                                              "who": who, "where": where}


def _apply(event: Event, scan: Scan, *, actor, now: dt.datetime) -> tuple[str, str, CheckIn]:
    member, signup = checkins._find(event, code=scan.code, member_id=scan.member_id, actor=actor)
    seated = signup is not None and signup.state in checkins.SEATED
    user = actors.actor_user(actor)
    mine = {"staff_id": getattr(user, "pk", None), "staff_label": actors.actor_label(actor),
            "device": scan.device or "", "source": scan.source, "at": scan.at}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {CHECKIN} (event_id, member_id, store_id, signup_id, walk_in, staff_id, staff_label,
                device, source, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (event_id, member_id) DO NOTHING RETURNING id""",
            [event.pk, member.pk, event.store_id, signup.pk if seated else None, not seated, mine["staff_id"],
             mine["staff_label"], mine["device"], scan.source, scan.at])
        row = cursor.fetchone()
    if row is not None:
        if not seated and not event.walk_ins_allowed:
            raise checkins.WalkInRefused(_("%(name)s has no seat and this event takes no walk-ins.")
                                         % {"name": member.name}, details={"member": [member.pk]})
        checkins.after_first(event, member, signup if seated else None, source=scan.source, actor=actor)
        checkin = CheckIn.objects.select_related("staff").get(pk=row[0])
        return "checked_in", _("Checked in at %(at)s.") % {
            "at": timezone.localtime(scan.at).strftime("%H:%M:%S")}, checkin
    kept = CheckIn.objects.select_for_update(of=("self",)).select_related("staff").get(event=event, member=member)
    if kept.at == scan.at and kept.device == mine["device"] and kept.staff_id == mine["staff_id"]:
        return "already", _("Already recorded: this scan was synced before."), kept
    if kept.at <= scan.at:  # the stored check-in was first: this scan is the conflict
        ScanConflict.objects.create(event=event, member=member, store_id=event.store_id, checkin=kept,
                                    found_at=now, **mine)
        return "earlier_kept", _("%(name)s was checked in first at %(when)s; this scan is kept as a conflict.") % {
            "name": member.name, "when": _when(kept)}, kept
    # This scan was first: it becomes the check-in, the later one is kept as the conflict.
    ScanConflict.objects.create(event=event, member=member, store_id=event.store_id, checkin=kept, found_at=now,
                                staff_id=kept.staff_id, staff_label=kept.staff_label, device=kept.device,
                                source=kept.source, at=kept.at)
    previous = _when(kept)
    CheckIn.objects.filter(pk=kept.pk).update(**mine)
    kept.refresh_from_db()
    return "replaced", _("%(name)s: this scan was first; the later check-in (%(when)s) is kept as a conflict.") % {
        "name": member.name, "when": previous}, kept


def sync_scans(*, event: Event, actor, scans: list[Scan], now: dt.datetime | None = None) -> list[ScanOutcome]:
    """Apply a phone's scans in their own time order; one answer per scan, in the order sent. A
    malformed batch is refused whole; a scan the rules refuse (no such ticket, no walk-ins) is
    answered as refused and the others stand."""
    now = now or timezone.now()
    access.require_check_in(actor, event)
    event.refresh_from_db(fields=["status", "walk_ins_allowed", "attendance_tag", "starts_at"])
    _check(scans, event, now)
    if event.status != EventStatus.OPEN:
        raise Conflict(_("The event is cancelled."), code="event_cancelled")
    answers: list[ScanOutcome | None] = [None] * len(scans)
    for index in sorted(range(len(scans)), key=lambda i: (scans[i].at, i)):
        try:
            with transaction.atomic():
                outcome, message, checkin = _apply(event, scans[index], actor=actor, now=now)
        except ServiceError as exc:
            answers[index] = ScanOutcome(index, "refused", str(exc.message))
        else:
            answers[index] = ScanOutcome(index, outcome, message, checkin)
    return [a for a in answers if a is not None]


def conflicts(event: Event):
    """An event's scan conflicts with the check-in that stands, newest found first."""
    return (ScanConflict.objects.filter(event=event).select_related("member", "staff", "checkin__staff")
            .order_by("-found_at", "-id"))

