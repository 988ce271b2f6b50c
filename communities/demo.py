"""Demo communities and events, after Decathlon's: each of the first demo stores runs a running
club, a cycling group and a parent-and-child group, each with a shopping guide as its "sports
ambassador" and another as assistant, and members who joined. Each club has an event tonight (seats
taken, some already checked in at the door, so the phone's check-in screen has a list), a weekend
event that filled up and has a waitlist, and a run last week with its attendance tagged. Idempotent:
a rerun finds the communities by name and adds nothing."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from communities.models import Community, Event
from communities.services import checkins, signups
from communities.services import communities as community_services
from communities.services import events as event_services
from members.models import Member
from scrm import demo as org_demo
from scrm.actors import SystemActor

DEMO_ACTOR = SystemActor("demo")
STORES = 3
# (kind, name, description, capacity, events: (title, place, days ahead, hour, capacity))
CLUBS = [
    ("running", "夜跑团 Night runners", "每周四晚环湖 5 公里，配速 6'30\"，新手有领跑。", 200,
     [("周四夜跑 5 公里", "门店门口集合 → 滨江步道", 0, 19, 30),
      ("周末半马训练 15 公里", "世纪公园 3 号门", 3, 7, 20)]),
    ("cycling", "周末骑行团 Weekend riders", "周六清晨 40 公里公路骑行，车况检查在店里做。", 120,
     [("环湖骑行 40 公里", "门店自行车区集合", 0, 20, 25),
      ("山路爬坡挑战", "佘山停车场", 4, 6, 15)]),
    ("parent_child", "亲子运动营 Parents and kids", "4–10 岁孩子和家长一起玩：飞盘、轮滑、平衡车。", 150,
     [("亲子飞盘日", "门店运动体验区", 0, 18, 20),
      ("轮滑入门课", "门店运动体验区", 2, 10, 12)]),
]


def _at(days: int, hour: int) -> dt.datetime:
    base = timezone.localtime().replace(hour=hour, minute=0, second=0, microsecond=0)
    start = base + dt.timedelta(days=days)
    if start <= timezone.now() + dt.timedelta(minutes=5):  # tonight's event has passed: the same hour tomorrow
        start += dt.timedelta(days=1)
    return start


def _seed_store(store, team, member_ids: list[int]) -> tuple[int, int]:
    guides = team[1:] or team
    made = events = 0
    for index, (kind, name, description, capacity, plans) in enumerate(CLUBS):
        if Community.objects.filter(store=store, name=name).exists():
            continue
        owner = guides[index % len(guides)]
        assistants = [g for g in guides if g.pk != owner.pk][:1]
        club = community_services.create_community(actor=DEMO_ACTOR, data=community_services.CommunityInput(
            store=store, name=name, owner=owner, kind=kind, description=description, capacity=capacity,
            assistants=assistants))
        made += 1
        joined = member_ids[index::len(CLUBS)][:60]
        for member_id in joined:
            community_services.join(community=club, member_id=member_id, actor=DEMO_ACTOR)
        for number, (title, place, days, hour, seats) in enumerate(plans):
            start = _at(days, hour)
            event = event_services.create_event(actor=DEMO_ACTOR, data=event_services.EventInput(
                community=club, title=title, place=place, starts_at=start, ends_at=start + dt.timedelta(hours=2),
                capacity=seats, offer_minutes=120, walk_ins_allowed=number == 0,
                description=description))
            events += 1
            crowd = joined[: seats + (8 if number else -5)]  # the weekend event fills and queues
            tickets = [signups.sign_up(event=event, member_id=m, actor=DEMO_ACTOR).signup for m in crowd]
            if number == 0:  # tonight: the first few are already in
                for ticket in tickets[:5]:
                    checkins.check_in(event=event, actor=owner, source="scan", code=ticket.code, device="demo phone")
        events += _last_week(club, owner, joined)
    return made, events


def _last_week(club, owner, joined) -> int:
    """A run last week that took place: made for tomorrow, its people checked in, then moved back
    a week (services refuse an event in the past; only the demo writes history)."""
    start = _at(1, 19)
    event = event_services.create_event(actor=DEMO_ACTOR, data=event_services.EventInput(
        community=club, title=f"{club.name.split()[0]} · 上周活动", place="门店门口集合", starts_at=start,
        ends_at=start + dt.timedelta(hours=2), capacity=25))
    for member_id in joined[:18]:
        ticket = signups.sign_up(event=event, member_id=member_id, actor=DEMO_ACTOR).signup
        if member_id % 6:
            checkins.check_in(event=event, actor=owner, source="list", member_id=None, code=ticket.code,
                              device="demo phone")
    week = dt.timedelta(days=8)
    Event.objects.filter(pk=event.pk).update(starts_at=start - week, ends_at=start - week + dt.timedelta(hours=2))
    return 1


def seed() -> str:
    stores = org_demo.demo_stores()[:STORES]
    if not stores or not Member.objects.exists():
        return "communities: no stores or members yet; nothing seeded"
    teams = org_demo.store_teams(stores)
    made = events = 0
    for store in stores:
        team = teams.get(store.pk) or []
        if not team:
            continue
        member_ids = list(Member.live.filter(home_store=store).order_by("id").values_list("id", flat=True)[:240])
        with transaction.atomic():
            m, e = _seed_store(store, team, member_ids)
        made, events = made + m, events + e
    if not made:
        return "communities: already seeded"
    return f"communities: {made} communities in {len(stores)} stores, {events} events with sign-ups, waitlists " \
           f"and check-ins"
