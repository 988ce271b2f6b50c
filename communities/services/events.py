"""Events: create and edit one (times, place, capacity, sign-up window, walk-in rule, the tag
attendees get, whether they are asked for feedback after it), and cancel it. A capacity below the
seats taken, an end before the start or a window closing before it opens is an error naming the
field, and nothing changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import ACTIVE, CancelledBy, Community, CommunityStatus, Event, EventStatus, SignUp, SignUpState
from communities.services import access, prices, signups
from members.models import Tag, TagGroup
from members.services import tags as tag_services
from scrm import actors
from scrm.actors import SystemActor
from scrm.errors import Conflict, Forbidden, InvalidInput
from scrm.models import Store
from scrm.scoping import access_for

ATTENDANCE_GROUP = "Events attended"
TAG_ACTOR = SystemActor("communities:attendance")
EDITABLE = ("title", "description", "place", "starts_at", "ends_at", "capacity", "signup_opens_at",
            "signup_closes_at", "offer_minutes", "walk_ins_allowed", "attendance_tag", "points_price", "ask_feedback")
MAX_OFFER_MINUTES = 7 * 24 * 60


@dataclass
class EventInput:
    title: str
    place: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    community: Community | None = None
    store: Store | None = None  # the host store of a brand-wide event
    description: str = ""
    signup_opens_at: dt.datetime | None = None
    signup_closes_at: dt.datetime | None = None
    offer_minutes: int = 120
    walk_ins_allowed: bool = True
    attendance_tag: Tag | None = None  # None: "attended: <title>" in the group Events attended
    points_price: int = 0  # points a seat costs (communities.services.prices)
    ask_feedback: bool = True  # attendees get their feedback link after it (communities.services.feedback_requests)


def _check(values: dict) -> dict:
    errors = {}
    for name in ("title", "place"):
        if name in values and not (values[name] or "").strip():
            errors[name] = [_("This field may not be blank.")]
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = [_("The event ends (%(ends)s) before it starts (%(starts)s).") % {
            "ends": timezone.localtime(ends).strftime("%Y-%m-%d %H:%M"),
            "starts": timezone.localtime(starts).strftime("%Y-%m-%d %H:%M")}]
    opens, closes = values.get("signup_opens_at"), values.get("signup_closes_at")
    if opens and closes and closes <= opens:
        errors["signup_closes_at"] = [_("Sign-up closes before it opens.")]
    if closes and starts and closes > starts and "signup_closes_at" not in errors:
        errors["signup_closes_at"] = [_("Sign-up closes (%(closes)s) after the event starts (%(starts)s).") % {
            "closes": timezone.localtime(closes).strftime("%Y-%m-%d %H:%M"),
            "starts": timezone.localtime(starts).strftime("%Y-%m-%d %H:%M")}]
    capacity = values.get("capacity")
    if "capacity" in values and (not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1):
        errors["capacity"] = [_("The capacity is a whole number of at least 1.")]
    minutes = values.get("offer_minutes")
    if "ask_feedback" in values and not isinstance(values["ask_feedback"], bool):
        errors["ask_feedback"] = [_("Give true or false.")]
    if "offer_minutes" in values and (not isinstance(minutes, int) or not 1 <= minutes <= MAX_OFFER_MINUTES):
        errors["offer_minutes"] = [_("Between 1 minute and 7 days.")]
    price = values.get("points_price", 0)
    if not isinstance(price, int) or isinstance(price, bool) or not 0 <= price <= prices.MAX_PRICE:
        errors["points_price"] = [_("A whole number of points from 0 (free) to %(max)s.") % {"max": prices.MAX_PRICE}]
    tag = values.get("attendance_tag")
    if tag is not None and tag.is_rule:
        errors["attendance_tag"] = [_("%(tag)s is a rule tag: its rule decides who carries it.") % {"tag": tag.name}]
    return errors


def attendance_tag_for(title: str) -> Tag:
    """The tag "attended: <title>" in the brand's group Events attended, made when first needed."""
    name = (_("attended: %(title)s") % {"title": title})[:64]
    group = TagGroup.objects.filter(name=ATTENDANCE_GROUP).first() or tag_services.create_group(
        actor=TAG_ACTOR, name=ATTENDANCE_GROUP, description="Given to members checked in at an event.")
    return Tag.objects.filter(group=group, name=name).first() or tag_services.create_tag(
        actor=TAG_ACTOR, group=group, name=name)


@transaction.atomic
def create_event(*, actor, data: EventInput) -> Event:
    store = data.community.store if data.community is not None else data.store
    probe = Event(community=data.community, store=store, title=data.title)
    if data.community is not None:
        access.require_manage_event(actor, probe)
        if data.community.status != CommunityStatus.ACTIVE:
            raise Conflict(_("“%(name)s” is not active: it holds no new events.") % {"name": data.community.name},
                           code="community_closed")
    elif not access_for(actor).all_stores:
        raise Forbidden(_("Only operators and brand-wide keys may create brand-wide events; store events belong "
                          "to a community."), details={"community": [_("Required for a store's event.")]})
    else:
        access.require_manage_event(actor, probe)
    values = {name: getattr(data, name) for name in EDITABLE}
    errors = _check(values)
    if data.starts_at and data.starts_at <= timezone.now() and "starts_at" not in errors:
        errors["starts_at"] = [_("The event would start in the past.")]
    if errors:
        raise InvalidInput(details=errors)
    tag = data.attendance_tag or attendance_tag_for(data.title.strip())
    return Event.objects.create(
        community=data.community, store=store, title=data.title.strip(), description=data.description,
        place=data.place.strip(), starts_at=data.starts_at, ends_at=data.ends_at, capacity=data.capacity,
        signup_opens_at=data.signup_opens_at, signup_closes_at=data.signup_closes_at,
        offer_minutes=data.offer_minutes, walk_ins_allowed=data.walk_ins_allowed, attendance_tag=tag,
        points_price=data.points_price, ask_feedback=data.ask_feedback, created_by=actors.actor_user(actor),
        created_by_label=actors.actor_label(actor),
    )


@transaction.atomic
def update_event(*, event: Event, actor, **values) -> Event:
    """Change an event's fields. Raising the capacity offers the new seats to the waitlist in order;
    lowering it below the seats taken is refused."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise TypeError(f"update_event() got unknown fields {sorted(unknown)}")
    event = Event.objects.select_for_update(of=("self",)).select_related("community").get(pk=event.pk)
    access.require_manage_event(actor, event)
    if event.status == EventStatus.CANCELLED:
        raise Conflict(_("The event is cancelled."), code="event_cancelled")
    merged = {name: values.get(name, getattr(event, name)) for name in EDITABLE}
    errors = _check(merged)
    if "capacity" in values and not errors.get("capacity") and values["capacity"] < event.seats_taken:
        errors["capacity"] = [_("%(taken)d seats are taken; the capacity cannot be lower (cancel sign-ups first).")
                              % {"taken": event.seats_taken}]
    if errors:
        raise InvalidInput(details=errors)
    for name, value in values.items():
        setattr(event, name, value)
    event.save()
    if "capacity" in values:
        signups.fill_free_seats(event.pk)
        event.refresh_from_db()
    return event


@transaction.atomic
def cancel_event(*, event: Event, actor) -> Event:
    """Cancel the event and every sign-up still active (by the organiser); its seats are freed and
    the points paid for them refunded."""
    event = Event.objects.select_for_update(of=("self",)).select_related("community").get(pk=event.pk)
    access.require_manage_event(actor, event)
    if event.status == EventStatus.CANCELLED:
        return event
    now = timezone.now()
    cancelled = SignUp.objects.filter(event=event, state__in=[s for s in ACTIVE if s != SignUpState.ATTENDED])
    paid = list(cancelled.filter(points_paid__gt=0, points_refunded_at__isnull=True)
                .order_by("member_id", "id").values_list("pk", flat=True))  # balances locked in member order
    cancelled.update(state=SignUpState.CANCELLED, cancelled_at=now, cancelled_by=CancelledBy.ORGANISER,
                     offer_expires_at=None)
    for signup_id in paid:
        prices.refund(signup_id=signup_id, actor=actor, now=now)
    attended = SignUp.objects.filter(event=event, state=SignUpState.ATTENDED).count()
    Event.objects.filter(pk=event.pk).update(status=EventStatus.CANCELLED, cancelled_at=now, seats_taken=attended)
    event.refresh_from_db()
    return event
