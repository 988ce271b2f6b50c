"""Read side of appointments: lists for the staff phone and the store calendar, and the figures
(bookings, utilisation per staff member and store, no-show rate, repeat bookings, and orders within
N days after a visit against the store's members who did not book)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from appointments.models import HOLDS_TIME, Booking, BookingState, WorkingHours
from loyalty.orders import sql as orders_sql
from members import sql as members_sql
from members.models import MemberTag
from scrm.scoping import access_for

BOOKING = Booking._meta.db_table
MAX_FIGURE_DAYS = 366
DAY_LIST_MAX = 100


def _zone():
    return timezone.get_default_timezone()


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min), _zone())
    return start, start + dt.timedelta(days=1)


def my_day(user, day: dt.date | None = None) -> list[dict]:
    """A staff member's bookings of a day (held or done), with who the member is: their tags and
    their last visit before this one. A bounded number of queries whatever the day holds."""
    day = day or timezone.localtime().date()
    start, end = day_bounds(day)
    rows = list(Booking.objects.visible_to(user).filter(staff=user, starts_at__gte=start, starts_at__lt=end)
                .exclude(state=BookingState.CANCELLED).select_related("member", "service")
                .order_by("starts_at")[:DAY_LIST_MAX])
    return with_member_context(rows)


def with_member_context(rows: list[Booking]) -> list[dict]:
    member_ids = {b.member_id for b in rows}
    tags = defaultdict(list)
    for member_id, name in (MemberTag.objects.filter(member_id__in=member_ids).order_by("member_id", "tag__name")
                            .values_list("member_id", "tag__name")):
        if len(tags[member_id]) < 6:
            tags[member_id].append(name)
    last = dict(Booking.objects.filter(member_id__in=member_ids, state=BookingState.COMPLETED)
                .values_list("member_id").annotate(at=Max("starts_at")))
    return [{"booking": b, "member": b.member, "tags": tags.get(b.member_id, []),
             "last_visit": last.get(b.member_id) if last.get(b.member_id) != b.starts_at else None} for b in rows]


def store_calendar(actor, store_id: int, start_day: dt.date, days: int = 7) -> dict:
    """A store's bookings of `days` days, by day and staff member (the manager's calendar)."""
    start, _end = day_bounds(start_day)
    end = start + dt.timedelta(days=days)
    rows = (Booking.objects.visible_to(actor).filter(store_id=store_id, starts_at__gte=start, starts_at__lt=end)
            .exclude(state=BookingState.CANCELLED).select_related("member", "service", "staff")
            .order_by("starts_at")[:2000])
    by_day: dict = defaultdict(list)
    for b in rows:
        by_day[timezone.localtime(b.starts_at, _zone()).date()].append(b)
    return {"days": [(start_day + dt.timedelta(days=i), by_day.get(start_day + dt.timedelta(days=i), []))
                     for i in range(days)]}


def member_panel(member, user) -> dict:
    """The member page's panel: their upcoming and recent bookings (those the reader's store holds)."""
    from appointments.services import access

    rows = list(Booking.objects.visible_to(user).filter(member=member).select_related("service", "staff", "store")
                .order_by("-starts_at")[:8])
    now = timezone.now()
    return {"upcoming": [b for b in rows if b.starts_at >= now and b.state == BookingState.BOOKED][::-1],
            "past": [b for b in rows if not (b.starts_at >= now and b.state == BookingState.BOOKED)][:5],
            "can_book": access.can_book_at(user, member.home_store_id) if member.home_store_id else False,
            "member": member}


def today_section(user) -> dict | None:
    """The phone's Today page: the signed-in staff member's bookings today."""
    if getattr(user, "store_id", None) is None:
        return None
    rows = my_day(user)
    return {"appointments_today": rows[:5], "appointments_count": len(rows)}


def _working_minutes(staff_ids: list[int], start: dt.date, days: int) -> dict[int, int]:
    per_weekday: dict = defaultdict(lambda: defaultdict(int))
    for sid, weekday, s, e in WorkingHours.objects.filter(staff_id__in=staff_ids).values_list(
            "staff_id", "weekday", "starts", "ends"):
        per_weekday[sid][weekday] += (dt.datetime.combine(start, e) - dt.datetime.combine(start, s)).seconds // 60
    counts = defaultdict(int)
    for i in range(days):
        counts[(start + dt.timedelta(days=i)).weekday()] += 1
    return {sid: sum(minutes * counts[w] for w, minutes in days_.items()) for sid, days_ in per_weekday.items()}


ORDERS_AFTER_SQL = f"""
WITH visited AS (
    SELECT b.member_id, min(b.starts_at) AS first_visit FROM {BOOKING} b
    JOIN {members_sql.MEMBER} m ON m.id = b.member_id AND {members_sql.live("m")}
    WHERE b.state = 'completed' AND b.starts_at >= %(start)s AND b.starts_at < %(end)s {{store_b}}
    GROUP BY b.member_id),
others AS (
    SELECT m.id AS member_id FROM {members_sql.MEMBER} m
    WHERE {members_sql.live("m")} {{store_m}}
      AND NOT EXISTS (SELECT 1 FROM {BOOKING} b WHERE b.member_id = m.id AND b.starts_at >= %(start)s
                      AND b.starts_at < %(end)s))
SELECT
    (SELECT count(*) FROM visited),
    (SELECT count(*) FROM visited v WHERE EXISTS (
        SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = v.member_id AND o.placed_at >= v.first_visit
        AND o.placed_at < v.first_visit + make_interval(days => %(days)s))),
    (SELECT count(*) FROM others),
    (SELECT count(*) FROM others x WHERE EXISTS (
        SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = x.member_id AND o.placed_at >= %(start)s
        AND o.placed_at < %(start)s + make_interval(days => %(days)s)))
"""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(actor, *, start: dt.date, end: dt.date, store_id: int | None = None, days_after: int = 30) -> dict:
    """The period's figures for what `actor` reaches (one store, or the brand). `end` is inclusive."""
    access = access_for(actor)
    if store_id is None and not access.all_stores:
        store_id = access.store_id
    days = (end - start).days + 1
    t0, _x = day_bounds(start)
    t1 = t0 + dt.timedelta(days=days)
    rows = Booking.objects.visible_to(actor).filter(starts_at__gte=t0, starts_at__lt=t1)
    if store_id is not None:
        rows = rows.filter(store_id=store_id)
    states = dict(rows.values_list("state").annotate(n=Count("id")))
    total = sum(states.values())
    no_show, completed = states.get(BookingState.NO_SHOW, 0), states.get(BookingState.COMPLETED, 0)
    checked = states.get(BookingState.CHECKED_IN, 0)
    per_member = rows.exclude(state=BookingState.CANCELLED).values("member_id").annotate(n=Count("id"))
    members = per_member.count()
    repeat = per_member.filter(n__gte=2).count()
    held = list(rows.filter(state__in=HOLDS_TIME).values("staff_id", "staff__username", "store_id", "store__code")
                .annotate(n=Count("id"), minutes=_minutes()))
    working = _working_minutes([h["staff_id"] for h in held], start, days)
    staff = [{"staff": h["staff_id"], "username": h["staff__username"], "store": h["store__code"],
              "bookings": h["n"], "booked_minutes": int(h["minutes"] or 0),
              "working_minutes": working.get(h["staff_id"], 0),
              "utilisation": _rate(int(h["minutes"] or 0), working.get(h["staff_id"], 0))} for h in held]
    stores: dict = {}
    for s in staff:
        agg = stores.setdefault(s["store"], {"store": s["store"], "bookings": 0, "booked_minutes": 0,
                                             "working_minutes": 0})
        for key in ("bookings", "booked_minutes", "working_minutes"):
            agg[key] += s[key]
    for agg in stores.values():
        agg["utilisation"] = _rate(agg["booked_minutes"], agg["working_minutes"])
    sql = ORDERS_AFTER_SQL.format(store_b="AND b.store_id = %(store)s" if store_id else "",
                                  store_m="AND m.home_store_id = %(store)s" if store_id else "")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": t0, "end": t1, "days": days_after, "store": store_id})
        visited, visited_ordered, others, others_ordered = cursor.fetchone()
    return {
        "start": start, "end": end, "store": store_id, "bookings": total,
        "by_state": {s: states.get(s, 0) for s in BookingState.values},
        "no_show_rate": _rate(no_show, no_show + completed + checked),
        "members": members, "repeat_members": repeat, "repeat_rate": _rate(repeat, members),
        "utilisation_staff": sorted(staff, key=lambda s: (s["store"], s["username"])),
        "utilisation_stores": sorted(stores.values(), key=lambda s: s["store"]),
        "orders_after": {"days": days_after, "visited": visited, "visited_ordered": visited_ordered,
                         "visited_rate": _rate(visited_ordered, visited), "did_not_book": others,
                         "did_not_book_ordered": others_ordered, "did_not_book_rate": _rate(others_ordered, others)},
    }


def _minutes():
    from django.db.models import DurationField, ExpressionWrapper, F, Sum
    from django.db.models.functions import Extract

    return Sum(Extract(ExpressionWrapper(F("ends_at") - F("starts_at"), output_field=DurationField()), "epoch")) / 60
