"""Read side of the KOC programme: the overview's figures (the pyramid and its movement, posts and
reach per month, media value per platform beside the ad rates, top posts and creators, the topic
leaderboard, purchases by creators and by the members their codes brought), a creator's page, the
member page's panel and the pickers of the screens.

Every figure is one grouped statement over the rows the viewer may see (`visible_to`): a store's
manager counts their store's creators and the posts, changes and orders that hang off them only.

The posts' figures (per month, per platform over the window, per topic, top creators) read the
summary koc.services.figures rebuilds (`PostDay`: one row per day, platform, store and topic;
`CreatorWindow`: one per creator and window), not the millions of posts; each takes `live=True` to
count the posts instead (the same answer on the same data). Windows ("last 30 days") start at the
brand's midnight `days` days before today, so a day-grained summary answers them exactly. Top posts
read the posts through the indexes on -interactions and -media_value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from koc.models import (
    Application,
    ApplicationState,
    BenefitGrant,
    Creator,
    CreatorStatus,
    CreatorWindow,
    Level,
    LevelChange,
    Participation,
    Platform,
    PlatformRate,
    Post,
    PostDay,
    Programme,
    Topic,
)
from loyalty.orders.models import Order
from scrm import permissions
from scrm.scoping import scope

WINDOWS = (30, 90, 365)
DEFAULT_WINDOW = 90
MONTHS = 12
TOP = 10
ZERO = Decimal("0")


def window_days(value) -> int:
    """The figures' window from a query parameter: one of WINDOWS, else the default."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_WINDOW
    return days if days in WINDOWS else DEFAULT_WINDOW


def creators(user):
    return Creator.objects.visible_to(user)


def posts(user):
    return Post.objects.visible_to(user)


def _months_back(now: dt.datetime, months: int) -> dt.datetime:
    """The first instant of the month `months - 1` months before `now`'s (local time)."""
    local = timezone.localtime(now)
    year, month = local.year, local.month - (months - 1)
    while month <= 0:
        month += 12
        year -= 1
    return local.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def _month_keys(start: dt.datetime, months: int) -> list[dt.date]:
    keys, year, month = [], start.year, start.month
    for _i in range(months):
        keys.append(dt.date(year, month, 1))
        month += 1
        if month > 12:
            month, year = 1, year + 1
    return keys


def since(days: int, now: dt.datetime | None = None) -> dt.datetime:
    """The start of a `days`-day window: the brand's midnight `days` days before today."""
    local = timezone.localtime(now or timezone.now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=days)


def summary(user, model):
    """The summary rows the viewer may see (a store's manager: their store's)."""
    return scope(model.objects.all(), user)


def _as_date(value) -> dt.date:
    return timezone.localtime(value).date() if isinstance(value, dt.datetime) else value


# --- the pyramid and its movement -----------------------------------------------------------------


def pyramid(user) -> dict:
    """Active creators per level (top of the pyramid first), and those with no level yet."""
    counts = dict(creators(user).filter(status=CreatorStatus.ACTIVE)
                  .values_list("level").annotate(n=Count("id")).values_list("level", "n"))
    levels = list(Level.objects.order_by("-rank"))
    rows = [{"level": level, "name": level.name, "rank": level.rank, "creators": counts.get(level.pk, 0)}
            for level in levels]
    total = sum(counts.values())
    for row in rows:
        row["share"] = (row["creators"] / total * 100) if total else 0
    return {"rows": rows, "unranked": counts.get(None, 0), "total": total}


def movement(user, *, months: int = MONTHS, now: dt.datetime | None = None) -> list[dict]:
    """Promotions and demotions per month over the last `months` months (oldest first)."""
    start = _months_back(now or timezone.now(), months)
    up = (Q(from_level__isnull=True, to_level__isnull=False)
          | Q(from_level__isnull=False, to_level__isnull=False, to_level__rank__gt=F("from_level__rank")))
    down = (Q(from_level__isnull=False, to_level__isnull=True)
            | Q(from_level__isnull=False, to_level__isnull=False, to_level__rank__lt=F("from_level__rank")))
    rows = (scope(LevelChange.objects.filter(at__gte=start), user)
            .annotate(month=TruncMonth("at")).values("month")
            .annotate(promoted=Count("id", filter=up), demoted=Count("id", filter=down)))
    found = {_as_date(r["month"]): r for r in rows}
    return [{"month": key, "promoted": found.get(key, {}).get("promoted", 0),
             "demoted": found.get(key, {}).get("demoted", 0)} for key in _month_keys(start, months)]


# --- posts, reach and media value -------------------------------------------------------------------


def posts_by_month(user, *, months: int = MONTHS, now: dt.datetime | None = None, live: bool = False) -> list[dict]:
    """Posts published, their views and their media value per month (oldest first)."""
    start = _months_back(now or timezone.now(), months)
    if live:
        rows = (posts(user).filter(published_at__gte=start).order_by()
                .annotate(month=TruncMonth("published_at")).values("month")
                .annotate(posts=Count("id"), viral=Count("id", filter=Q(viral=True)), views=Sum("views"),
                          media_value=Sum("media_value")))
    else:
        rows = (summary(user, PostDay).filter(day__gte=start.date()).order_by()
                .annotate(month=TruncMonth("day")).values("month")
                .annotate(posts=Sum("posts"), viral=Sum("viral"), views=Sum("views"), media_value=Sum("media_value")))
    found = {_as_date(r["month"]): r for r in rows}
    result = []
    for key in _month_keys(start, months):
        row = found.get(key, {})
        result.append({"month": key, "posts": row.get("posts", 0), "viral": row.get("viral", 0),
                       "views": row.get("views") or 0, "media_value": row.get("media_value") or ZERO})
    return result


def media_value(user, *, days: int, now: dt.datetime | None = None, live: bool = False) -> dict:
    """Per platform over the window: posts, views, weighted interactions and media value, beside the
    operator's rates and what the same views and interactions would cost bought as ads at them."""
    start = since(days, now)
    if live:
        found = (posts(user).filter(published_at__gte=start).order_by().values("platform")
                 .annotate(posts=Count("id"), views=Sum("views"), interactions=Sum("interactions"),
                           media_value=Sum("media_value")))
    else:
        found = (summary(user, PostDay).filter(day__gte=start.date()).order_by().values("platform")
                 .annotate(posts=Sum("posts"), views=Sum("views"), interactions=Sum("interactions"),
                           media_value=Sum("media_value")))
    rows = {r["platform"]: r for r in found}
    rates = {r.platform: r for r in PlatformRate.objects.all()}
    result, totals = [], {"posts": 0, "views": 0, "interactions": 0, "media_value": ZERO, "ad_cost": ZERO}
    for platform, label in Platform.choices:
        row = rows.get(platform)
        rate = rates.get(platform)
        if row is None and rate is None:
            continue
        views = (row or {}).get("views") or 0
        interactions = (row or {}).get("interactions") or 0
        ad_cost = None
        if rate is not None:
            ad_cost = (Decimal(views) / 1000 * rate.cpm + Decimal(interactions) * rate.cpe).quantize(Decimal("0.01"))
        entry = {"platform": platform, "label": label, "posts": (row or {}).get("posts") or 0, "views": views,
                 "interactions": interactions, "media_value": (row or {}).get("media_value") or ZERO,
                 "cpm": rate.cpm if rate else None, "cpe": rate.cpe if rate else None, "ad_cost": ad_cost}
        result.append(entry)
        for key in ("posts", "views", "interactions", "media_value"):
            totals[key] += entry[key]
        totals["ad_cost"] += ad_cost or ZERO
    return {"rows": result, "totals": totals, "since": start, "days": days}


def top_posts(user, *, days: int, by: str = "interactions", limit: int = TOP, now: dt.datetime | None = None):
    """The window's posts with the most interactions or media value (an index scan down
    koc_post_top or koc_post_top_value, stopping at the `limit`-th post in the window)."""
    order = "-media_value" if by == "media_value" else "-interactions"
    return list(posts(user).filter(published_at__gte=since(days, now)).select_related("creator__member", "topic")
                .order_by(order, "-id")[:limit])


def top_creators(user, *, days: int, by: str = "interactions", limit: int = TOP, now: dt.datetime | None = None,
                 live: bool = False):
    """Creators by what their posts published in the window made (interactions or media value):
    the posts grouped by creator first (or the summary's rows for the window, as at its refresh:
    `days` one of WINDOWS), then the few creators at the top read."""
    start = since(days, now)
    order = "-media_value" if by == "media_value" else "-interactions"
    if live:
        rows = list(posts(user).filter(published_at__gte=start).order_by().values("creator")
                    .annotate(post_count=Count("id"), interactions=Sum("interactions"), views=Sum("views"),
                              media_value=Sum("media_value"))
                    .order_by(order, "-post_count", "creator")[:limit])
    else:
        rows = list(summary(user, CreatorWindow).filter(days=days).order_by(order, "-posts", "creator_id")
                    .values("creator", "interactions", "views", "media_value", post_count=F("posts"))[:limit])
    found = Creator.objects.select_related("member", "level").in_bulk([r["creator"] for r in rows])
    result = []
    for row in rows:
        creator = found.get(row["creator"])
        if creator is not None:
            for name in ("post_count", "interactions", "views", "media_value"):
                setattr(creator, name, row[name] or 0)
            result.append(creator)
    return result


def topic_leaderboard(user, *, limit: int = 20, live: bool = False) -> list[dict]:
    """Topics by the views of the posts made for them (posts the viewer may see), with participants."""
    if live:
        rows = list(posts(user).filter(topic__isnull=False).order_by().values("topic")
                    .annotate(posts=Count("id"), views=Sum("views"), interactions=Sum("interactions"),
                              media_value=Sum("media_value")).order_by("-views", "topic")[:limit])
    else:
        rows = list(summary(user, PostDay).filter(topic__isnull=False).order_by().values("topic")
                    .annotate(posts=Sum("posts"), views=Sum("views"), interactions=Sum("interactions"),
                              media_value=Sum("media_value")).order_by("-views", "topic")[:limit])
    topics = Topic.objects.in_bulk([r["topic"] for r in rows])
    joined = dict(scope(Participation.objects.filter(topic__in=list(topics)), user).order_by()
                  .values("topic").annotate(n=Count("id")).values_list("topic", "n"))
    return [{"topic": topics[r["topic"]], "posts": r["posts"], "views": r["views"] or 0,
             "interactions": r["interactions"] or 0, "media_value": r["media_value"] or ZERO,
             "participants": joined.get(r["topic"], 0)} for r in rows if r["topic"] in topics]


def topic_figures(topic, user) -> dict:
    agg = posts(user).filter(topic=topic).aggregate(
        posts=Count("id"), views=Coalesce(Sum("views"), 0), interactions=Coalesce(Sum("interactions"), 0),
        media_value=Coalesce(Sum("media_value"), Value(ZERO), output_field=DecimalField(max_digits=16,
                                                                                      decimal_places=2)))
    agg["participants"] = scope(Participation.objects.filter(topic=topic), user).count()
    return agg


# --- purchases ------------------------------------------------------------------------------------

_NET = F("total_amount") - F("refunded_amount")
_MONEY = DecimalField(max_digits=16, decimal_places=2)


def _orders_summary(queryset) -> dict:
    agg = queryset.aggregate(orders=Count("id"), buyers=Count("member", distinct=True),
                             net=Coalesce(Sum(_NET, output_field=_MONEY), Value(ZERO), output_field=_MONEY))
    return agg


def purchases(user, *, days: int, now: dt.datetime | None = None, limit: int = TOP) -> dict:
    """Orders placed in the window by creators themselves, and by the members their referral codes
    brought in (loyalty.referrals' Referral rows whose referrer is a creator), net of refunds; and
    the creators whose referred members bought the most."""
    start = since(days, now)
    creator_members = creators(user).values("member_id")
    in_window = Order.objects.filter(placed_at__gte=start)
    own = _orders_summary(in_window.filter(member_id__in=creator_members))
    referred_orders = in_window.filter(member__referred_by__referrer_id__in=creator_members)
    referred = _orders_summary(referred_orders)
    from loyalty.referrals.models import Referral

    referred["members"] = Referral.objects.filter(referrer_id__in=creator_members).count()
    by_referrer = list(referred_orders.order_by().values("member__referred_by__referrer_id")
                       .annotate(orders=Count("id"), buyers=Count("member", distinct=True),
                                 net=Sum(_NET, output_field=_MONEY)).order_by("-net")[:limit])
    names = {c.member_id: c for c in creators(user).filter(
        member_id__in=[r["member__referred_by__referrer_id"] for r in by_referrer]).select_related("member")}
    top = [{"creator": names[r["member__referred_by__referrer_id"]], "orders": r["orders"], "buyers": r["buyers"],
            "net": r["net"] or ZERO} for r in by_referrer if r["member__referred_by__referrer_id"] in names]
    return {"own": own, "referred": referred, "top": top, "since": start, "days": days}


# --- the overview, in one place ----------------------------------------------------------------------


def headline(user, monthly: list[dict]) -> dict:
    """The cards at the head of the overview; posts and viral posts are the last twelve months'
    (summed from `monthly`, so the page counts the posts table once)."""
    return {
        "creators": creators(user).filter(status=CreatorStatus.ACTIVE).count(),
        "pending": scope(Application.objects.filter(state=ApplicationState.PENDING), user).count(),
        "posts": sum(r["posts"] for r in monthly),
        "viral": sum(r["viral"] for r in monthly),
    }


def overview(user, *, days: int, by: str = "interactions") -> dict:
    """Every figure of the overview page. The posts' figures come from the summary, as of its last
    refresh (`as_of`); when it was never built it is built at once for few posts
    (koc.services.figures.ensure), else they are counted live until the first scheduled refresh
    (`as_of` None). The pyramid, movement, applications, top posts and purchases are read live."""
    from koc.services import figures as summaries

    as_of = summaries.ensure()
    live = as_of is None
    monthly = posts_by_month(user, live=live)
    return {
        "days": days, "by": by, "windows": WINDOWS, "counted_at": timezone.now(), "as_of": as_of,
        "since": since(days), "time_zone": settings.TIME_ZONE,
        "headline": headline(user, monthly),
        "pyramid": pyramid(user),
        "movement": movement(user),
        "monthly": monthly,
        "media": media_value(user, days=days, live=live),
        "top_posts": top_posts(user, days=days, by=by),
        "top_creators": top_creators(user, days=days, by=by, live=live),
        "topics": topic_leaderboard(user, live=live),
        "purchases": purchases(user, days=days),
    }


def chart_data(figures: dict) -> dict:
    """What the page's charts draw (the same numbers as its tables), as JSON-ready lists."""
    return {
        "pyramid": [{"name": r["name"], "value": r["creators"]} for r in figures["pyramid"]["rows"]],
        "months": [r["month"].strftime("%Y-%m") for r in figures["monthly"]],
        "posts": [r["posts"] for r in figures["monthly"]],
        "views": [r["views"] for r in figures["monthly"]],
        "promoted": [r["promoted"] for r in figures["movement"]],
        "demoted": [r["demoted"] for r in figures["movement"]],
    }


# --- a creator's page and the member panel ------------------------------------------------------------


def creator_grants(creator):
    return BenefitGrant.objects.filter(creator=creator, revoked_at__isnull=True).select_related("benefit__level")


def creator_topics(creator):
    return Participation.objects.filter(creator=creator).select_related("topic").order_by("-joined_at")


def member_panel(member, user) -> dict:
    """The KOC panel of the member 360 page: the creator's level, posts in the window and what the
    next level needs; else a pending application; else whether the viewer may propose them."""
    creator = scope(Creator.objects.filter(member=member), user).select_related("level").first()
    context = {"member": member, "creator": creator, "application": None, "needs": None, "can_propose": False}
    if creator is not None:
        context["needs"] = next_level_needs(creator)
        context["unmet"] = [n for n in context["needs"].needs if not n.met]
        programme = Programme.current()
        since = timezone.now() - dt.timedelta(days=programme.window_days)
        context["window_days"] = programme.window_days
        context["recent_posts"] = Post.objects.filter(creator=creator, published_at__gte=since).count()
        return context
    context["application"] = (scope(Application.objects.filter(member=member, state=ApplicationState.PENDING), user)
                              .first())
    if context["application"] is None:
        context["can_propose"] = permissions.can_write(user, "koc_creators")
    return context


def next_level_needs(creator):
    from koc.services import levels

    return levels.next_level_needs(creator)


# --- pickers ----------------------------------------------------------------------------------------


def creator_choices(user):
    return (creators(user).filter(status=CreatorStatus.ACTIVE).select_related("member", "level")
            .order_by("member__name", "id"))


def open_topics():
    return Topic.objects.filter(status="open").order_by("-starts_at")


def today_section(user) -> dict:
    """The phone's Today page: a way to submit a creator's post, for staff who may record posts."""
    if not permissions.can_write(user, "koc_posts"):
        return {"show": False}
    start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return {"show": True, "month_posts": posts(user).filter(submitted_by=user, created_at__gte=start).count()}
