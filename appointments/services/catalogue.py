"""What a store offers and when: services, skills and who holds them, opening and working hours,
time off. Store managers keep their store's; operators the brand's (brand-wide services and skills)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from appointments.models import OpeningHours, PriceKind, Service, Skill, StaffSkill, TimeOff, VisitPlace, WorkingHours
from appointments.services import access
from scrm.errors import InvalidInput
from scrm.models import STORE_ROLES, Store, User

SERVICE_FIELDS = ("name", "description", "duration_minutes", "price_kind", "price_amount", "points_price", "skill",
                  "buffer_minutes", "min_notice_minutes", "max_days_ahead", "cancel_hours", "place",
                  "travel_minutes", "follow_up_days", "follow_up_text", "is_active")
LIMITS = {"duration_minutes": (5, 720), "buffer_minutes": (0, 240), "min_notice_minutes": (0, 60 * 24 * 14),
          "max_days_ahead": (1, 365), "cancel_hours": (0, 24 * 14), "travel_minutes": (0, 240),
          "follow_up_days": (0, 365), "points_price": (0, 1_000_000)}


def _service_errors(values: dict) -> dict:
    errors = {}
    name = values.get("name", "")
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        errors["name"] = [_("A name of 1 to 80 characters.")]
    for key, (low, high) in LIMITS.items():
        value = values.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors[key] = [_("A whole number from %(low)d to %(high)d.") % {"low": low, "high": high}]
    if values.get("price_kind") not in PriceKind.values:
        errors["price_kind"] = [_("One of: %(choices)s.") % {"choices": ", ".join(PriceKind.values)}]
    if values.get("place") not in VisitPlace.values:
        errors["place"] = [_("One of: %(choices)s.") % {"choices": ", ".join(VisitPlace.values)}]
    try:
        amount = Decimal(str(values.get("price_amount", 0)))
        if not amount.is_finite() or amount < 0 or amount >= Decimal("100000000"):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["price_amount"] = [_("An amount from 0 up to 99999999.99.")]
    if values.get("price_kind") == PriceKind.POINTS and not values.get("points_price"):
        errors["points_price"] = [_("A service priced in points needs its points price.")]
    if values.get("place") == VisitPlace.STORE and values.get("travel_minutes"):
        errors["travel_minutes"] = [_("Only a visit at home has a travel buffer.")]
    if len(values.get("follow_up_text") or "") > 200:
        errors["follow_up_text"] = [_("At most 200 characters.")]
    skill = values.get("skill")
    if skill is not None and not isinstance(skill, Skill):
        errors["skill"] = [_("No such skill.")]
    return errors


def _defaults() -> dict:
    return {f.name: f.get_default() for f in Service._meta.concrete_fields if f.name in SERVICE_FIELDS}


@transaction.atomic
def save_service(*, actor, store: Store | None, values: dict, service: Service | None = None) -> Service:
    """Create a service (store None: brand-wide, operators only) or change one; bad values change nothing."""
    store_id = service.store_id if service is not None else (store.pk if store else None)
    access.require_manage_store(actor, store_id)
    unknown = sorted(set(values) - set(SERVICE_FIELDS))
    if unknown:
        raise InvalidInput(details={key: [_("Not a field of a service.")] for key in unknown})
    current = {f: getattr(service, f) for f in SERVICE_FIELDS} if service is not None else _defaults()
    merged = {**current, **values}
    if errors := _service_errors(merged):
        raise InvalidInput(details=errors)
    merged["name"] = merged["name"].strip()
    target = service or Service(store_id=store_id)
    for key, value in merged.items():
        setattr(target, key, value)
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError:
        taken = _("A service “%(name)s” already exists here.") % {"name": merged["name"]}
        raise InvalidInput(details={"name": [taken]})
    return target


def create_skill(*, actor, name: str) -> Skill:
    access.require_manage_store(actor, None)
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise InvalidInput(details={"name": [_("A name of 1 to 60 characters.")]})
    skill, _created = Skill.objects.get_or_create(name=name)
    return skill


def _staff_of(store: Store, staff_id: int) -> User:
    staff = User.objects.filter(pk=staff_id, store=store, role__in=STORE_ROLES).first()
    if staff is None:
        raise InvalidInput(details={"staff": [_("No staff member %(id)s at %(store)s.")
                                              % {"id": staff_id, "store": store.name}]})
    return staff


@transaction.atomic
def set_skills(*, actor, store: Store, staff_id: int, skill_ids: list[int]) -> list[int]:
    """The skills a staff member of `store` holds, replaced as a whole."""
    access.require_manage_store(actor, store.pk)
    staff = _staff_of(store, staff_id)
    known = set(Skill.objects.filter(pk__in=skill_ids).values_list("pk", flat=True))
    if missing := sorted(set(skill_ids) - known):
        raise InvalidInput(details={"skills": [_("No skill %(ids)s.") % {"ids": ", ".join(map(str, missing))}]})
    StaffSkill.objects.filter(staff=staff).exclude(skill_id__in=known).delete()
    StaffSkill.objects.bulk_create([StaffSkill(staff=staff, skill_id=s) for s in sorted(known)], ignore_conflicts=True)
    return sorted(known)


def _hours_errors(rows, first: str, second: str) -> dict:
    errors = {}
    for index, row in enumerate(rows):
        weekday, starts, ends = row
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            errors[str(index)] = [_("The weekday is 0 (Monday) to 6 (Sunday).")]
        elif not isinstance(starts, dt.time) or not isinstance(ends, dt.time) or ends <= starts:
            errors[str(index)] = [_("%(second)s must be after %(first)s.") % {"first": first, "second": second}]
    return errors


@transaction.atomic
def set_opening_hours(*, actor, store: Store, rows: list[tuple[int, dt.time, dt.time]]) -> int:
    """A store's week as a whole: one (weekday, opens, closes) per open day; a day left out is closed."""
    access.require_manage_store(actor, store.pk)
    if errors := _hours_errors(rows, _("opens"), _("closes")):
        raise InvalidInput(details={"hours": errors})
    days = [r[0] for r in rows]
    if len(days) != len(set(days)):
        raise InvalidInput(details={"hours": [_("One row per weekday.")]})
    OpeningHours.objects.filter(store=store).delete()
    OpeningHours.objects.bulk_create([OpeningHours(store=store, weekday=w, opens=o, closes=c) for w, o, c in rows])
    return len(rows)


@transaction.atomic
def set_working_hours(*, actor, store: Store, staff_id: int, rows: list[tuple[int, dt.time, dt.time]]) -> int:
    """A staff member's week as a whole: (weekday, from, until) rows, two on a split day."""
    access.require_manage_store(actor, store.pk)
    staff = _staff_of(store, staff_id)
    if errors := _hours_errors(rows, _("from"), _("until")):
        raise InvalidInput(details={"hours": errors})
    WorkingHours.objects.filter(staff=staff).delete()
    WorkingHours.objects.bulk_create([WorkingHours(staff=staff, weekday=w, starts=s, ends=e) for w, s, e in rows])
    return len(rows)


def add_time_off(*, actor, store: Store, starts_at: dt.datetime, ends_at: dt.datetime, staff_id: int | None = None,
                 reason: str = "") -> TimeOff:
    """Time away for a staff member, or the store closed (no staff member). Bookings already made in
    that time stay: the manager moves or cancels them (the calendar shows them)."""
    access.require_manage_store(actor, store.pk)
    staff = _staff_of(store, staff_id) if staff_id is not None else None
    if not isinstance(starts_at, dt.datetime) or not isinstance(ends_at, dt.datetime) or ends_at <= starts_at:
        raise InvalidInput(details={"ends_at": [_("Must be after the start.")]})
    if len(reason or "") > 120:
        raise InvalidInput(details={"reason": [_("At most 120 characters.")]})
    return TimeOff.objects.create(store=store, staff=staff, starts_at=starts_at, ends_at=ends_at, reason=reason or "")
