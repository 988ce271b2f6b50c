"""Demo KOC programme, after MINISO's pyramid, for the chocolate brand of the demo: a three-level
ladder (初级 one or two posts, 中级 keeps creating, 高级 posts that take off), ad rates per
platform, rights per level (samples, early access a week before the winter launch, the senior
creators' community, the mentor role), a "blind-box weighing" topic open now and a finished one,
about forty creators with accounts and three months of posts measured over time, a few
applications waiting, and a first recalculation so the pyramid stands. Idempotent: a rerun finds
the ladder and adds nothing."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from communities.models import Community
from koc.models import Creator, Level, Platform, Post, Topic
from koc.services import creators, levels, posts, rights, settings, tiers, topics
from members.models import Member
from scrm import demo as org_demo
from scrm.actors import SystemActor

DEMO_ACTOR = SystemActor("demo")
LADDER = [
    {"rank": 1, "name": "初级 KOC", "description": "发过一两篇笔记的会员。", "min_posts": 1, "min_viral": 0,
     "min_interactions": 0},
    {"rank": 2, "name": "中级 KOC", "description": "持续创作：90 天 6 篇以上，互动 1,500 以上。", "min_posts": 6,
     "min_viral": 0, "min_interactions": 1500},
    {"rank": 3, "name": "高级 KOC", "description": "做出爆款：90 天 10 篇以上，至少 2 篇爆款。", "min_posts": 10,
     "min_viral": 2, "min_interactions": 8000},
]
RATES = {Platform.XIAOHONGSHU: (90, "0.80"), Platform.DOUYIN: (35, "0.30"), Platform.CHANNELS: (45, "0.40"),
         Platform.MOMENTS: (60, "0.50"), Platform.WEIBO: (20, "0.20"), Platform.BILIBILI: (50, "0.50")}
HOSTS = {Platform.XIAOHONGSHU: "https://www.xiaohongshu.com/explore/{id}",
         Platform.DOUYIN: "https://www.douyin.com/video/{id}",
         Platform.WEIBO: "https://weibo.com/{uid}/{id}",
         Platform.BILIBILI: "https://www.bilibili.com/video/BV{id}"}
TITLES = ["黑巧盲测：85% 和 70% 你分得出吗", "冬季限定松露开箱", "办公室下午茶巧克力清单", "巧克力盲盒称重挑战攻略",
          "可可豆产地故事：厄瓜多尔", "热可可自制教程", "送礼巧克力怎么选", "低糖黑巧一周打卡", "巧克力配红酒实验",
          "门店新品试吃记"]
CREATORS = 40


def _url(platform: str, rng: random.Random, serial: int) -> str:
    template = HOSTS.get(platform, HOSTS[Platform.XIAOHONGSHU])
    return template.format(id=f"{rng.getrandbits(48):012x}{serial:04d}", uid=rng.randint(10**9, 10**10 - 1))


def _ladder() -> list[Level]:
    built = levels.save_ladder(actor=DEMO_ACTOR, levels=[dict(item) for item in LADDER])
    for platform, (cpm, cpe) in RATES.items():
        settings.set_rate(actor=DEMO_ACTOR, platform=platform, cpm=cpm, cpe=cpe)
    return built


def _rights(ladder: list[Level]) -> None:
    junior, middle, senior = ladder
    rights.save_benefit(actor=DEMO_ACTOR, level_id=junior.pk, kind="sample", name="新品试吃装",
                        description="每季度一份新品试吃装，寄到家。")
    rights.save_benefit(actor=DEMO_ACTOR, level_id=middle.pk, kind="early_access", name="新品抢先购",
                        description="新品公开发售前 7 天可买。", early_days=7)
    club = Community.objects.order_by("id").first()
    if club is not None:
        rights.save_benefit(actor=DEMO_ACTOR, level_id=senior.pk, kind="community", name="高级 KOC 创作者社群",
                            description="高手交流各平台流量规则和创意。", community_id=club.pk)
    rights.save_benefit(actor=DEMO_ACTOR, level_id=senior.pk, kind="mentor", name="带教老师",
                        description="带新人 KOC，分享模板。")
    rights.save_launch(actor=DEMO_ACTOR, name="冬季限定 松露巧克力礼盒",
                       public_at=timezone.now() + dt.timedelta(days=5),
                       description="公开发售前一周，中级以上 KOC 抢先购。")


def _topics(now: dt.datetime) -> tuple[Topic, Topic]:
    weighing = topics.create_topic(
        actor=DEMO_ACTOR, title="巧克力盲盒称重挑战", starts_at=now - dt.timedelta(days=20),
        ends_at=now + dt.timedelta(days=25), platforms=[Platform.XIAOHONGSHU, Platform.DOUYIN], reward_points=200,
        brief="用厨房秤称盲盒，猜里面是哪款隐藏口味，把攻略分享出来。带话题 #可可盲盒称重#。")
    topics.open_topic(topic=weighing, actor=DEMO_ACTOR)
    autumn = topics.create_topic(
        actor=DEMO_ACTOR, title="秋日热可可", starts_at=now - dt.timedelta(days=80),
        ends_at=now + dt.timedelta(hours=1), reward_sample="热可可粉一罐",
        brief="拍一杯你的热可可：配方、杯子、窗外的秋天。")
    topics.open_topic(topic=autumn, actor=DEMO_ACTOR)
    topics.close_topic(topic=autumn, actor=DEMO_ACTOR)
    # it ran in the autumn: services refuse a window in the past, only the demo writes history
    Topic.objects.filter(pk=autumn.pk).update(ends_at=now - dt.timedelta(days=40))
    return weighing, autumn


def _creator_posts(creator: Creator, *, rng: random.Random, now: dt.datetime, weight: float, weighing: Topic,
                   serial: int) -> int:
    platforms = [Platform.XIAOHONGSHU, Platform.DOUYIN, Platform.WEIBO, Platform.BILIBILI]
    platform = platforms[creator.pk % len(platforms)]
    creators.add_account(creator=creator, actor=DEMO_ACTOR, platform=platform,
                         handle=f"{creator.member.name}的可可日记 {creator.pk}", followers=int(300 + 40000 * weight))
    count = max(1, int(1 + 14 * weight * rng.random()))
    takes_part = weight > 0.5 and platform in weighing.platforms
    if takes_part:
        topics.join(topic=weighing, creator=creator, actor=DEMO_ACTOR)
    made = 0
    for index in range(count):
        published = now - dt.timedelta(days=rng.uniform(1, 85), hours=rng.uniform(0, 12))
        topic_id = weighing.pk if takes_part and published > weighing.starts_at and index % 2 == 0 else None
        post = posts.record_post(creator=creator, actor=DEMO_ACTOR, url=_url(platform, rng, serial + index),
                                 published_at=published, title=rng.choice(TITLES), topic_id=topic_id)
        views = int(rng.paretovariate(1.6) * 400 * (1 + 6 * weight))
        rate = 0.04 + 0.14 * weight * rng.random()  # counters only grow: one rate for the post's life
        seen = (published + dt.timedelta(days=1), published + dt.timedelta(days=3),
                min(now, published + dt.timedelta(days=7)))
        for step, taken in enumerate(seen, start=1):
            if taken > now or (step > 1 and taken <= seen[step - 2]):
                continue
            share = step / len(seen)
            v = int(views * share)
            likes = int(v * rate)
            posts.record_metrics(post=post, actor=DEMO_ACTOR, taken_at=taken, views=v, likes=likes,
                                 saves=likes // 3, comments=likes // 8, shares=likes // 12,
                                 followers_gained=likes // 20)
        made += 1
    return made


def seed() -> str:
    if Level.objects.exists():
        return "koc: already seeded"
    stores = org_demo.demo_stores()
    members = list(Member.live.filter(home_store__in=stores).order_by("id").values_list("id", flat=True)[:400])
    if not members:
        return "koc: no members yet; nothing seeded"
    rng = random.Random(20261203)
    now = timezone.now()
    with transaction.atomic():
        ladder = _ladder()
        weighing, _autumn = _topics(now)
        chosen = members[::max(1, len(members) // (CREATORS + 6))][: CREATORS + 6]
        made_posts = 0
        for index, member_id in enumerate(chosen[:CREATORS]):
            creator = creators.admit(member_id=member_id, actor=DEMO_ACTOR, bio="爱吃黑巧，也爱分享。")
            weight = (1 - index / CREATORS) ** 2  # a few prolific creators at the top, a long tail below
            made_posts += _creator_posts(creator, rng=rng, now=now, weight=weight, weighing=weighing,
                                         serial=index * 100)
        for member_id in chosen[CREATORS:]:
            creators.apply(member_id=member_id, actor=DEMO_ACTOR, motivation="想和大家分享我每天的黑巧打卡。",
                           platforms=[Platform.XIAOHONGSHU])
        _rights(ladder)
        run = tiers.recalculate(actor=DEMO_ACTOR, trigger="manual", period_end=False)
    viral = Post.objects.filter(viral=True).count()
    return (f"koc: {CREATORS} creators ({run.promoted} placed on the ladder), {made_posts} posts ({viral} viral), "
            f"{len(chosen) - CREATORS} applications waiting, 2 topics, a launch with early access")
