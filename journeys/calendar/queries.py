"""Read-side of the content calendar: a month of posts by local day, a post's completion as the reader
may see it, and the posts a staff member should publish today."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from journeys.calendar.models import PlannedPost, PostStaff, PostState, StaffStatus

MONTH_MAX_POSTS = 500  # a month's calendar shows at most this many posts (the list pages the rest)
PHONE_SHOWN = 10
SENDERS_SHOWN = 1000  # a post has at most MAX_SENDERS senders


def local_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, start of the day after `last`) in the brand's time zone."""
    tz = timezone.get_current_timezone()
    return (timezone.make_aware(dt.datetime.combine(first, dt.time.min), tz),
            timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min), tz))


@dataclass
class Day:
    date: dt.date
    in_month: bool
    is_today: bool
    posts: list = field(default_factory=list)


def month(queryset: QuerySet, year: int, month_number: int) -> list[list[Day]]:
    """The month's weeks (Monday first), each day with its posts of `queryset` (already scoped)."""
    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month_number)
    start, end = local_bounds(weeks[0][0], weeks[-1][-1])
    today = timezone.localdate()
    days = {d: Day(d, d.month == month_number, d == today) for week in weeks for d in week}
    rows = queryset.filter(publish_at__gte=start, publish_at__lt=end).order_by("publish_at", "id")
    for post in rows[:MONTH_MAX_POSTS]:
        day = days.get(timezone.localtime(post.publish_at).date())
        if day is not None:
            day.posts.append(post)
    return [[days[d] for d in week] for week in weeks]


def with_completion(queryset: QuerySet, actor) -> QuerySet:
    """Posts with the counts of the senders the actor may see: senders, posted, not yet, left out."""
    visible = PostStaff.objects.visible_to(actor).values("pk")
    mine = Q(senders__pk__in=visible)
    return queryset.annotate(
        n_senders=Count("senders", filter=mine & ~Q(senders__status=StaffStatus.SKIPPED), distinct=True),
        n_posted=Count("senders", filter=mine & Q(senders__status=StaffStatus.POSTED), distinct=True),
        n_pending=Count("senders", filter=mine & Q(senders__status=StaffStatus.PENDING), distinct=True),
        n_refused=Count("senders", filter=mine & Q(senders__status=StaffStatus.REFUSED), distinct=True),
        n_skipped=Count("senders", filter=mine & Q(senders__status=StaffStatus.SKIPPED), distinct=True),
    )


def share(posted: int, senders: int) -> int | None:
    """The share of senders who posted, in whole percent (None before any sender is known)."""
    return round(100 * posted / senders) if senders else None


def senders(post: PlannedPost, actor) -> QuerySet:
    return PostStaff.objects.visible_to(actor).filter(post=post).select_related("store").order_by("status", "name",
                                                                                                  "id")


def completion(post: PlannedPost, actor) -> dict:
    rows = PostStaff.objects.visible_to(actor).filter(post=post)
    counts = dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    total = sum(counts.values()) - counts.get(StaffStatus.SKIPPED, 0)
    posted = counts.get(StaffStatus.POSTED, 0)
    return {"senders": total, "posted": posted, "pending": counts.get(StaffStatus.PENDING, 0),
            "refused": counts.get(StaffStatus.REFUSED, 0), "skipped": counts.get(StaffStatus.SKIPPED, 0),
            "share": share(posted, total)}


def today_for(user) -> QuerySet:
    """The user's own posts of today (brand time zone) that WeCom has asked them to publish."""
    start, end = local_bounds(timezone.localdate(), timezone.localdate())
    return (PostStaff.objects.visible_to(user)
            .filter(user=user, post__publish_at__gte=start, post__publish_at__lt=end,
                    post__state__in=[PostState.SUBMITTED, PostState.CREATED])
            .exclude(status__in=[StaffStatus.SKIPPED, StaffStatus.REFUSED])
            .select_related("post").order_by("status", "post__publish_at", "id"))


def today_section(user) -> dict:
    if not getattr(user, "is_authenticated", False) or getattr(user, "store_id", None) is None:
        return {"show": False}
    rows = list(today_for(user)[:PHONE_SHOWN])
    return {"show": bool(rows), "rows": rows, "left": sum(1 for r in rows if r.status == StaffStatus.PENDING)}
