"""Demo services and appointments, after the seeds' service brands: an optician's free eye test (Baodao's
members "continue to enter the store by appointment"), and Ubibear's baby swimming, children's massage
and a visit at home for new mothers. The first demo stores open 10:00-21:00, their staff work a day
shift or a late shift and hold skills; each staff member has visits today and tomorrow, and last
week's visits are done (notes, a no-show), so my day, the calendar and the figures have something to
show. Idempotent: a rerun finds the services by name and adds nothing."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from appointments.models import Booking, BookingState, Service
from appointments.services import availability, bookings, catalogue
from members.models import Member
from scrm import demo as org_demo
from scrm.actors import SystemActor
from scrm.errors import ServiceError

DEMO_ACTOR = SystemActor("demo")
STORES = 3
WEEK = range(7)
SKILLS = ["验光 Optometry", "婴儿游泳 Baby swimming", "小儿推拿 Children's massage", "母婴护理 Maternity care"]
# name, description, minutes, price kind, amount, points, skill index, buffer, place, travel, follow-up (days, task)
SERVICES = [
    ("免费验光 Free eye test", "电脑验光 + 综合验光，约 45 分钟。", 45, "free", 0, 0, 0, 15, "store", 0,
     (7, "问问新镜片戴着舒服吗 Ask how the new lenses feel")),
    ("婴儿游泳 Baby swimming", "6–36 个月宝宝，恒温水池，一对一看护。", 60, "at_store", 168, 0, 1, 15, "store", 0,
     (14, "问问宝宝游完睡得好吗 Ask how the baby slept after swimming")),
    ("小儿推拿 Children's massage", "积食、睡眠调理，40 分钟。", 40, "points", 0, 300, 2, 10, "store", 0, (0, "")),
]
HOME_VISIT = ("上门母婴护理 Maternity care at home", "产后 42 天内上门：喂养指导、宝宝护理。", 90, "at_store", 299,
              0, 3, 0, "home", 30, (3, "回访妈妈的喂养情况 Call the mother about feeding"))
NOTES = ["右眼 -1.25，左眼 -1.00，推荐防蓝光镜片", "宝宝第一次下水有点紧张，20 分钟后放松了", "积食，建议少吃甜食",
         "双眼度数稳定，半年后复查"]


def _hours(store, team) -> None:
    catalogue.set_opening_hours(actor=DEMO_ACTOR, store=store, rows=[(w, dt.time(10), dt.time(21)) for w in WEEK])
    for index, user in enumerate(team):
        shift = (dt.time(10), dt.time(19)) if index % 2 == 0 else (dt.time(12), dt.time(21))
        catalogue.set_working_hours(actor=DEMO_ACTOR, store=store, staff_id=user.pk,
                                    rows=[(w, *shift) for w in WEEK if w != (index + 2) % 7])


def _services(store, team, skills) -> list[Service]:
    for index, user in enumerate(team):
        held = {skills[index % len(skills)].pk, skills[(index + 1) % len(skills)].pk}
        catalogue.set_skills(actor=DEMO_ACTOR, store=store, staff_id=user.pk, skill_ids=sorted(held))
    made = []
    for name, description, minutes, kind, amount, points, skill, buffer, place, travel, (days, task) in SERVICES:
        made.append(catalogue.save_service(actor=DEMO_ACTOR, store=store, values={
            "name": name, "description": description, "duration_minutes": minutes, "price_kind": kind,
            "price_amount": amount, "points_price": points, "skill": skills[skill], "buffer_minutes": buffer,
            "place": place, "travel_minutes": travel, "follow_up_days": days, "follow_up_text": task,
            "min_notice_minutes": 30}))
    return made


def _book_some(service, store, member_ids, day, count) -> list[Booking]:
    made = []
    free = availability.slots(service=service, store=store, start_day=day, days=1)
    for slot in free[:: max(1, len(free) // max(count, 1))][:count]:
        if not member_ids:
            break
        try:
            made.append(bookings.book(actor=DEMO_ACTOR, service=service, store=store, member_id=member_ids.pop(),
                                      starts_at=slot.starts_at, source="guide" if len(made) % 2 else "public",
                                      address="上海市静安区南京西路 1 号" if service.place == "home" else "").booking)
        except ServiceError:
            continue
    return made


def _history(visits: list[Booking]) -> None:
    """Last week's visits: booked for tomorrow, then moved back eight days and settled (services refuse
    a visit in the past; only the demo writes history)."""
    week = dt.timedelta(days=8)
    for index, booking in enumerate(visits):
        back = {"starts_at": booking.starts_at - week, "ends_at": booking.ends_at - week,
                "held_from": booking.held_from - week, "held_until": booking.held_until - week,
                "created_at": booking.starts_at - week - dt.timedelta(days=3)}
        if index % 5 == 4:
            back.update(state=BookingState.NO_SHOW, no_show_at=booking.starts_at - week + dt.timedelta(minutes=20))
        else:
            back.update(state=BookingState.COMPLETED, checked_in_at=booking.starts_at - week,
                        completed_at=booking.ends_at - week, notes=NOTES[index % len(NOTES)])
        Booking.objects.filter(pk=booking.pk).update(**back)


def _seed_store(store, team, skills) -> int:
    _hours(store, team)
    services = _services(store, team, skills)
    member_ids = list(Member.live.filter(home_store=store).order_by("-id").values_list("id", flat=True)[:80])
    today = timezone.localtime().date()
    made, past = 0, []
    for service in services:
        made += len(_book_some(service, store, member_ids, today, 3))
        made += len(_book_some(service, store, member_ids, today + dt.timedelta(days=1), 3))
        past += _book_some(service, store, member_ids, today + dt.timedelta(days=2), 5)
    _history(past)  # all at once: a visit moved back first must not free its time for the next service
    return made + len(past)


def seed() -> str:
    stores = org_demo.demo_stores()[:STORES]
    if not stores or not Member.objects.exists():
        return "appointments: no stores or members yet; nothing seeded"
    if Service.objects.filter(name=SERVICES[0][0]).exists():
        return "appointments: already seeded"
    teams = org_demo.store_teams(stores)
    with transaction.atomic():
        skills = [catalogue.create_skill(actor=DEMO_ACTOR, name=name) for name in SKILLS]
        name, description, minutes, kind, amount, points, skill, buffer, place, travel, (days, task) = HOME_VISIT
        catalogue.save_service(actor=DEMO_ACTOR, store=None, values={
            "name": name, "description": description, "duration_minutes": minutes, "price_kind": kind,
            "price_amount": amount, "points_price": points, "skill": skills[skill], "buffer_minutes": buffer,
            "place": place, "travel_minutes": travel, "follow_up_days": days, "follow_up_text": task,
            "min_notice_minutes": 24 * 60})
    made = 0
    for store in stores:
        team = teams.get(store.pk) or []
        if team:
            with transaction.atomic():
                made += _seed_store(store, team, skills)
    return f"appointments: {len(SERVICES) * len(stores) + 1} services in {len(stores)} stores and brand-wide, " \
           f"{made} bookings (today, tomorrow and last week's visits)"
