"""Free slots of a service at a store, in the brand's time zone.

A slot is a start time (on a STEP_MINUTES grid from the opening time) at which the whole visit fits
inside the store's opening hours and a qualified staff member's working hours that day, and at which
the time the booking would hold (the visit widened by the service's buffer after it, and by the
travel time on both sides for a visit at home) overlaps none of that staff member's held bookings,
their time off or the store's closures. Only starts inside the service's booking window count: at
least `min_notice_minutes` from now, at most `max_days_ahead` days ahead.

The whole range is read in five indexed queries (staff, working hours, opening hours, time off,
held bookings) and the slots are computed in memory: a month at a store is a few thousand candidate
starts whatever the size of the brand. The booking service asks the same function for one start, so
the page and the booking can never disagree on what is free.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.models import (
    HOLDS_TIME,
    Booking,
    OpeningHours,
    Service,
    StaffSkill,
    TimeOff,
    VisitPlace,
    WorkingHours,
)
from scrm.errors import InvalidInput
from scrm.models import STORE_ROLES, Store, User

STEP_MINUTES = 15
MAX_DAYS = 62  # one request's range: two months at most


@dataclass
class Slot:
    starts_at: dt.datetime
    ends_at: dt.datetime
    staff_ids: list[int] = field(default_factory=list)


@dataclass
class Window:
    """What a day at a store looks like for a service: who may provide it and when they are busy."""

    service: Service
    store: Store
    staff_ids: list[int]
    hours: dict  # staff id -> weekday -> [(starts, ends)]
    opening: dict  # weekday -> (opens, closes)
    busy: dict  # staff id -> sorted [(from, until)] of the bookings they hold
    away: dict  # staff id -> [(from, until)] of their time off
    closed: list  # [(from, until)] store closures
    busy_s: dict = field(default_factory=dict)  # the same three in integer seconds
    away_s: dict = field(default_factory=dict)
    closed_s: list = field(default_factory=list)

    def __post_init__(self):
        self.refresh()

    def refresh(self) -> None:
        self.busy_s = {sid: _seconds(rows) for sid, rows in self.busy.items()}
        self.away_s = {sid: _seconds(rows) for sid, rows in self.away.items()}
        self.closed_s = _seconds(self.closed)


def zone():
    return timezone.get_default_timezone()


def offered_at(service: Service, store: Store) -> bool:
    return service.store_id in (None, store.pk)


def require_offered(service: Service, store: Store) -> None:
    if not offered_at(service, store) or not service.is_active:
        raise InvalidInput(
            _("%(store)s does not offer “%(service)s”.") % {"store": store.name, "service": service.name},
            details={"service": [_("Not offered by the store %(code)s.") % {"code": store.code}]},
        )


def held_range(service: Service, starts_at: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """(visit end, held from, held until) of a visit starting at `starts_at`."""
    ends_at = starts_at + dt.timedelta(minutes=service.duration_minutes)
    travel = dt.timedelta(minutes=service.travel_minutes if service.place == VisitPlace.HOME else 0)
    return ends_at, starts_at - travel, ends_at + dt.timedelta(minutes=service.buffer_minutes) + travel


def qualified_staff(service: Service, store: Store):
    staff = User.objects.filter(store=store, is_active=True, role__in=STORE_ROLES)
    if service.skill_id:
        staff = staff.filter(Exists(StaffSkill.objects.filter(staff=OuterRef("pk"), skill_id=service.skill_id)))
    return staff


def _window(service: Service, store: Store, start: dt.datetime, end: dt.datetime, staff_id: int | None) -> Window:
    staff = qualified_staff(service, store)
    if staff_id is not None:
        staff = staff.filter(pk=staff_id)
    staff_ids = list(staff.order_by("pk").values_list("pk", flat=True))
    hours: dict = defaultdict(lambda: defaultdict(list))
    for sid, weekday, starts, ends in WorkingHours.objects.filter(staff_id__in=staff_ids).values_list(
            "staff_id", "weekday", "starts", "ends"):
        hours[sid][weekday].append((starts, ends))
    opening = {w: (o, c) for w, o, c in OpeningHours.objects.filter(store=store).values_list("weekday", "opens",
                                                                                               "closes")}
    busy: dict = defaultdict(list)
    away: dict = defaultdict(list)
    closed = []
    margin = dt.timedelta(days=1)
    for sid, f, u in TimeOff.objects.filter(store=store, starts_at__lt=end + margin, ends_at__gt=start - margin).filter(
            Q(staff_id__in=staff_ids) | Q(staff__isnull=True)).values_list("staff_id", "starts_at", "ends_at"):
        (away[sid] if sid else closed).append((f, u))
    for sid, f, u in Booking.objects.filter(staff_id__in=staff_ids, state__in=HOLDS_TIME,
                                            starts_at__lt=end + margin, starts_at__gt=start - margin * 2).filter(
            held_until__gt=start - margin).values_list("staff_id", "held_from", "held_until"):
        busy[sid].append((f, u))
    for rows in busy.values():
        rows.sort()
    closed.sort()
    return Window(service, store, staff_ids, hours, opening, busy, away, closed)


def _ts(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _seconds(rows: list) -> list[tuple[int, int]]:
    return sorted((_ts(f), _ts(u)) for f, u in rows)


def _free(rows: list[tuple[int, int]], cursor: int, f: int, u: int) -> tuple[bool, int]:
    """Whether [f, u) misses every interval of the sorted `rows`, for candidates asked in increasing
    order: `cursor` skips the intervals that ended before an earlier candidate (bookings are short, so
    the intervals a candidate can meet start within a day of it)."""
    n = len(rows)
    while cursor < n and rows[cursor][1] <= f - 86400:
        cursor += 1
    i = cursor
    while i < n and rows[i][0] < u:
        if rows[i][1] > f:
            return False, cursor
        i += 1
    return True, cursor


def _day_slots(w: Window, day: dt.date, earliest: dt.datetime, latest: dt.datetime, step: dt.timedelta) -> list[Slot]:
    """The day's free starts. Times are compared as integer seconds: aware datetimes in a zone cost a
    zone look-up per comparison, which a month of candidates pays thousands of times."""
    tz = zone()
    weekday = day.weekday()
    if weekday not in w.opening:
        return []
    opens, closes = w.opening[weekday]
    open_at = _ts(timezone.make_aware(dt.datetime.combine(day, opens), tz))
    close_at = _ts(timezone.make_aware(dt.datetime.combine(day, closes), tz))
    service = w.service
    length = service.duration_minutes * 60
    travel = service.travel_minutes * 60 if service.place == VisitPlace.HOME else 0
    after = length + service.buffer_minutes * 60 + travel
    step_s = int(step.total_seconds())
    first, last = _ts(earliest), _ts(latest)
    closed = w.closed_s
    by_start: dict[int, list[int]] = {}
    for sid in w.staff_ids:
        busy, away = w.busy_s.get(sid, ()), w.away_s.get(sid, ())
        cursor = 0
        for starts, ends in sorted(w.hours.get(sid, {}).get(weekday, ())):
            shift_from = max(open_at, _ts(timezone.make_aware(dt.datetime.combine(day, starts), tz)))
            shift_to = min(close_at, _ts(timezone.make_aware(dt.datetime.combine(day, ends), tz)))
            at = shift_from + (-(shift_from - open_at)) % step_s  # on the grid from the opening time
            while at + length <= shift_to:
                if first <= at <= last:
                    f, u = at - travel, at + after
                    ok, cursor = _free(busy, cursor, f, u)
                    if ok and not any(rf < u and ru > f for rf, ru in away) and not any(
                            rf < at + length and ru > at for rf, ru in closed):
                        by_start.setdefault(at, []).append(sid)
                at += step_s
    visit = dt.timedelta(seconds=length)
    slots = []
    for at in sorted(by_start):
        moment = dt.datetime.fromtimestamp(at, tz)
        slots.append(Slot(moment, moment + visit, by_start[at]))
    return slots


def booking_window(service: Service, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    earliest = now + dt.timedelta(minutes=service.min_notice_minutes)
    last_day = timezone.localtime(now, zone()).date() + dt.timedelta(days=service.max_days_ahead)
    latest = timezone.make_aware(dt.datetime.combine(last_day, dt.time(23, 59, 59)), zone())
    return earliest, latest


def slots(*, service: Service, store: Store, start_day: dt.date, days: int = 31, staff_id: int | None = None,
          now: dt.datetime | None = None) -> list[Slot]:
    """The free slots of `service` at `store` from `start_day` for `days` days (local dates)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(details={"days": [_("Between 1 and %(max)d days.") % {"max": MAX_DAYS}]})
    require_offered(service, store)
    now = now or timezone.now()
    tz = zone()
    start = timezone.make_aware(dt.datetime.combine(start_day, dt.time.min), tz)
    end = start + dt.timedelta(days=days)
    w = _window(service, store, start, end, staff_id)
    earliest, latest = booking_window(service, now)
    step = dt.timedelta(minutes=STEP_MINUTES)
    found: list[Slot] = []
    for offset in range(days):
        found.extend(_day_slots(w, start_day + dt.timedelta(days=offset), earliest, latest, step))
    return found


def free_staff_at(*, service: Service, store: Store, starts_at: dt.datetime, staff_id: int | None = None,
                  now: dt.datetime | None = None, ignore_booking: int | None = None) -> list[int]:
    """The staff free for a visit starting exactly at `starts_at` (after the caller checked the window)."""
    day = timezone.localtime(starts_at, zone()).date()
    tz = zone()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min), tz)
    w = _window(service, store, start, start + dt.timedelta(days=1), staff_id)
    if ignore_booking is not None:  # a reschedule may move within the time its own booking holds
        own = Booking.objects.filter(pk=ignore_booking).values_list("held_from", "held_until").first()
        if own:
            for rows in w.busy.values():
                if own in rows:
                    rows.remove(own)
            w.refresh()
    never, always = starts_at - dt.timedelta(days=1), starts_at + dt.timedelta(days=1)
    for slot in _day_slots(w, day, never, always, dt.timedelta(minutes=1)):
        if slot.starts_at == starts_at:
            return slot.staff_ids
    return []


def fit_problem(*, service: Service, store: Store, starts_at: dt.datetime) -> str | None:
    """Why a visit of `service` at `starts_at` does not fit the store's day, or None."""
    local = timezone.localtime(starts_at, zone())
    hours = OpeningHours.objects.filter(store=store, weekday=local.weekday()).first()
    if hours is None:
        return _("%(store)s is closed on %(day)s.") % {"store": store.name, "day": local.strftime("%Y-%m-%d")}
    ends = local + dt.timedelta(minutes=service.duration_minutes)
    if local.time() < hours.opens or ends.date() != local.date() or ends.time() > hours.closes:
        return _("“%(service)s” takes %(minutes)d minutes and the store is open %(opens)s–%(closes)s that day: "
                 "a start at %(at)s does not fit.") % {
            "service": service.name, "minutes": service.duration_minutes, "opens": hours.opens.strftime("%H:%M"),
            "closes": hours.closes.strftime("%H:%M"), "at": local.strftime("%H:%M")}
    return None
