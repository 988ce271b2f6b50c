"""Demo content calendar: this month's Moments and customer-group posts for the demo stores (the
brand's production stories, a store event, a holiday greeting), one brand-wide, one a draft. With the
local WeCom server running (as `up` runs it), today's post is handed to it at once, so the post page
and the clerks' phones show who has posted (the local corp's staff publish a share of it a moment
later, as beat's next polls find). Idempotent: a post of the same title on the same day is not made
twice."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from journeys.calendar import services
from journeys.calendar.models import PlannedPost
from journeys.calendar.services import PostInput
from scrm import demo as org_demo
from scrm.actors import SystemActor
from wecom.client import errors
from wecom.services import connection

DEMO_ACTOR = SystemActor("demo")
# (days from today, hour, kind, audience, store index or None, title, text, link)
PLAN = [
    (0, None, "moment", "store", 0, "工坊的一天：从可可豆到巧克力",
     "清晨六点，烘焙师把今年第一批海南可可豆送进烘烤炉。发酵、烘烤、研磨、调温，一块黑巧要走完 72 小时。"
     "这周末来门店，跟我们一起尝尝新鲜出炉的 70% 黑巧。", "https://example.com/story/cocoa-day"),
    (1, 10, "moment", "all", None, "冬季限定：热可可回来了",
     "冬天的第一杯热可可，用的是我们自己调温的黑巧。全国门店今日起供应，会员第二杯半价。", ""),
    (3, 19, "group", "store", 1, "周六跑团：滨江夜跑 5 公里",
     "本周六晚七点，滨江步道集合，跑完请大家喝热可可。报名请在群里接龙。", ""),
    (7, 11, "moment", "store", 2, "会员日预告", "下周三会员日，积分兑换新品礼盒，提前收藏。", ""),
]
DRAFT_INDEX = 3


def _when(days: int, hour: int | None) -> dt.datetime:
    if hour is None:  # today's post: a minute from now, so it is handed to WeCom at once
        return timezone.now() + dt.timedelta(minutes=1)
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)), timezone.get_current_timezone())


def _exists(title: str, when: dt.datetime) -> bool:
    start, end = (timezone.make_aware(dt.datetime.combine(d, dt.time.min), timezone.get_current_timezone())
                  for d in (timezone.localtime(when).date(), timezone.localtime(when).date() + dt.timedelta(days=1)))
    return PlannedPost.objects.filter(title=title, publish_at__gte=start, publish_at__lt=end).exists()


def seed() -> str:
    stores = org_demo.demo_stores()[:3]
    if len(stores) < 3:
        return "calendar: no demo stores yet; nothing seeded"
    made = []
    for index, (days, hour, kind, audience, store_index, title, text, link) in enumerate(PLAN):
        when = _when(days, hour)
        if _exists(title, when):
            continue
        data = PostInput(title=title, publish_at=when, kind=kind, text=text, link_url=link,
                         link_title=title if link else "", audience=audience,
                         store=stores[store_index] if store_index is not None else None)
        made.append(services.save_post(actor=DEMO_ACTOR, data=data, schedule=index != DRAFT_INDEX))
    handed = ""
    if made and connection.mode() == "local":
        try:
            done = services.tick(now=timezone.now() + dt.timedelta(minutes=2))
            handed = f"; {done['submitted']} handed to the local WeCom server"
        except errors.WecomError as exc:
            handed = f"; the local WeCom server did not answer ({type(exc).__name__})"
    if not made:
        return "calendar: already seeded for this month"
    return f"calendar: {len(made)} planned posts{handed}"
