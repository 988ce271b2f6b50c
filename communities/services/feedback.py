"""After an event: its photos as links (the organiser adds them) and the attendees' feedback.

Photos: a list of http(s) links with captions (at most MAX_PHOTOS), set as a whole by whoever manages
the event once it has started; each URL is validated, and nothing is saved when one is bad.

Feedback: an attendee (checked in) rates the event 1 to 5 with an optional comment, once: giving it
again changes the same row, until CHANGE_DAYS after the event ends. The member gives it through
their signed link (`/feedback/<token>/`, the token Django's signing of the event and member, no
login), or staff who may check people in at the event enter it on the phone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import CheckIn, Event, EventFeedback, EventStatus, FeedbackSource
from communities.services import access
from members.models import Member
from scrm.actors import actor_user
from scrm.errors import Conflict, InvalidInput, NotInScope

MAX_PHOTOS = 50
CAPTION_MAX = 200
URL_MAX = 1000
COMMENT_MAX = 500
CHANGE_DAYS = 14
SALT = "siyu.communities.feedback"
_url = URLValidator(schemes=["http", "https"])


@transaction.atomic
def set_photos(*, event: Event, actor, photos) -> Event:
    """Replace the event's photos with `photos` ([{"url", "caption"}]); [] clears them."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    access.require_manage_event(actor, event)
    if event.starts_at > timezone.now():
        raise Conflict(_("Photos are added once the event has started."), code="event_not_started")
    if not isinstance(photos, list):
        raise InvalidInput(details={"photos": [_("Give a list of photos.")]})
    if len(photos) > MAX_PHOTOS:
        raise InvalidInput(details={"photos": [_("At most %(max)d photos.") % {"max": MAX_PHOTOS}]})
    cleaned, problems = [], []
    for index, item in enumerate(photos):
        url = str((item or {}).get("url") or "").strip() if isinstance(item, dict) else ""
        caption = str((item or {}).get("caption") or "").strip() if isinstance(item, dict) else ""
        try:
            if len(url) > URL_MAX:
                raise ValidationError("too long")
            _url(url)
        except ValidationError:
            problems.append(_("Photo %(n)d: not an http(s) link: “%(url)s”.") % {"n": index + 1, "url": url[:80]})
            continue
        if len(caption) > CAPTION_MAX:
            problems.append(_("Photo %(n)d: the caption is longer than %(max)d characters.")
                            % {"n": index + 1, "max": CAPTION_MAX})
            continue
        cleaned.append({"url": url, "caption": caption})
    if problems:
        raise InvalidInput(details={"photos": problems})
    event.photos = cleaned
    event.save(update_fields=["photos", "updated_at"])
    return event


def token_for(event_id: int, member_id: int) -> str:
    return signing.dumps({"e": event_id, "m": member_id}, salt=SALT)


def read_token(token: str) -> tuple[int, int] | None:
    try:
        payload = signing.loads(token or "", salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), int) for k in ("e", "m")):
        return None
    return payload["e"], payload["m"]


def link(event_id: int, member_id: int) -> str:
    return f"{settings.SIYU_PUBLIC_URL}{reverse('community-feedback', args=[token_for(event_id, member_id)])}"


def closes_at(event: Event) -> dt.datetime:
    return event.ends_at + dt.timedelta(days=CHANGE_DAYS)


@dataclass(frozen=True)
class Given:
    feedback: EventFeedback
    created: bool


@transaction.atomic
def give(*, event: Event, member_id: int, rating, comment: str = "", actor=None,
         now: dt.datetime | None = None) -> Given:
    """Record an attendee's rating (actor None: the member through their link; else staff who may
    check people in at the event). Again within CHANGE_DAYS after the end: the same row changes."""
    now = now or timezone.now()
    source = FeedbackSource.MEMBER
    if actor is not None:
        access.require_check_in(actor, event)
        source = FeedbackSource.STAFF
    errors = {}
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        errors["rating"] = [_("Rate the event from 1 to 5.")]
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        errors["comment"] = [_("At most %(max)d characters.") % {"max": COMMENT_MAX}]
    if errors:
        raise InvalidInput(details=errors)
    if not Member.live.filter(pk=member_id).exists():
        raise NotInScope(_("No such member."), details={"member": [member_id]})
    if event.status == EventStatus.CANCELLED:
        raise Conflict(_("The event was cancelled."), code="event_cancelled")
    if event.starts_at > now:
        raise Conflict(_("Feedback opens when the event starts."), code="event_not_started")
    if not CheckIn.objects.filter(event=event, member_id=member_id).exists():
        raise Conflict(_("Only members checked in at the event can rate it."), code="not_attended",
                       details={"member": [member_id]})
    found = EventFeedback.objects.select_for_update().filter(event=event, member_id=member_id).first()
    if now > closes_at(event):
        raise Conflict(_("Feedback on this event closed on %(date)s.")
                       % {"date": timezone.localtime(closes_at(event)).strftime("%Y-%m-%d")}, code="feedback_closed")
    staff = actor_user(actor) if actor is not None else None
    if found is not None:
        found.rating, found.comment, found.source, found.staff, found.updated_at = rating, comment, source, staff, now
        found.save(update_fields=["rating", "comment", "source", "staff", "updated_at"])
        return Given(found, False)
    row, created = EventFeedback.objects.get_or_create(
        event=event, member_id=member_id,
        defaults={"store_id": event.store_id, "rating": rating, "comment": comment, "source": source,
                  "staff": staff, "created_at": now, "updated_at": now})
    return Given(row, created)
