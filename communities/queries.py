"""Read side of communities: counts beside lists, the staff phone's own communities and today's
events. Every list comes in already scoped (visible_to) or is scoped here by the user."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from communities.models import (
    CheckIn,
    Community,
    CommunityMembership,
    Event,
    EventFeedback,
    EventReminder,
    FeedbackRequest,
    Invitation,
    InvitationBatch,
    SignUp,
    SignUpState,
)
from loyalty.orders import sql as orders_sql
from members import sql as members_sql
from scrm.models import Role
from scrm.scoping import access_for


def member_counts(community_ids) -> dict[int, int]:
    rows = (CommunityMembership.objects.filter(community_id__in=list(community_ids), left_at__isnull=True)
            .values("community_id").annotate(n=Count("id")))
    return {r["community_id"]: r["n"] for r in rows}


def signup_counts(event_ids) -> dict[int, dict[str, int]]:
    """Sign-ups by state for each event, one query."""
    counts: dict[int, dict[str, int]] = {pk: dict.fromkeys(SignUpState.values, 0) for pk in event_ids}
    rows = SignUp.objects.filter(event_id__in=list(event_ids)).values("event_id", "state").annotate(n=Count("id"))
    for r in rows:
        counts[r["event_id"]][r["state"]] = r["n"]
    return counts


def notice_counts(event_id: int) -> dict[str, int]:
    """An event's notices (reminders, freed seats offered): handed to the campaigns' engine, and waiting."""
    return EventReminder.objects.filter(event_id=event_id).aggregate(
        handed=Count("id", filter=Q(handed_at__isnull=False)), waiting=Count("id", filter=Q(handed_at__isnull=True)))


def feedback_asked(event_id: int) -> dict[str, int]:
    """An event's attendees asked for feedback (handed to the campaigns' engine; not those marked
    unsent because they had answered or feedback had closed), and how many of them answered."""
    from communities.services.feedback_requests import ANSWERED, CLOSED

    asked = FeedbackRequest.objects.filter(event_id=event_id, handed_at__isnull=False).exclude(
        handed_to__in=[ANSWERED, CLOSED])
    gave = EventFeedback.objects.filter(event_id=OuterRef("event_id"), member_id=OuterRef("member_id"))
    return asked.aggregate(asked=Count("id"), answered=Count("id", filter=Q(Exists(gave))))


def my_communities(user, *, whole_store: bool = False) -> QuerySet:
    """A clerk's communities (owner or assistant; `whole_store`: all of the store's); a manager's:
    the store's; an operator's: all."""
    queryset = Community.objects.visible_to(user).select_related("store")
    if getattr(user, "role", None) == Role.STORE_STAFF and not whole_store:
        queryset = queryset.filter(Q(owner=user) | Q(assistants=user)).distinct()
    return queryset.order_by("name")


def todays_events(user, *, now=None) -> QuerySet:
    """Events starting today (local time) or running now, that the user may check people in at."""
    now = timezone.localtime(now or timezone.now())
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    queryset = Event.objects.visible_to(user).filter(
        Q(starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1)) | Q(starts_at__lte=now, ends_at__gt=now),
        status="open",
    )
    if getattr(user, "store_id", None) is not None:
        queryset = queryset.filter(store_id=user.store_id)  # the doors of their own store
    return queryset.select_related("community", "store").order_by("starts_at", "id")


def door_list(event: Event, user) -> QuerySet:
    """The seated sign-ups of an event for the door, by name, with their check-in if any."""
    return (SignUp.objects.visible_to(user).filter(
        event=event, state__in=[SignUpState.CONFIRMED, SignUpState.OFFERED, SignUpState.ATTENDED])
        .select_related("member").order_by("member__name", "id"))


def manageable_communities(user) -> QuerySet:
    """The active communities the user may hold events in (communities.services.access in one
    query): every one for brand-wide actors, the store's for its manager, their own for a clerk."""
    queryset = Community.objects.visible_to(user).filter(status="active").select_related("store")
    if not access_for(user).all_stores and getattr(user, "role", None) == Role.STORE_STAFF:
        queryset = queryset.filter(Q(owner=user) | Q(assistants=user)).distinct()
    return queryset.order_by("store__name", "name")


# --- Figures -------------------------------------------------------------------------------------

GROWTH_DAYS = 30
ACTIVE_DAYS = 90
PURCHASE_DAYS = 90

TABLES = {
    "community": Community._meta.db_table, "membership": CommunityMembership._meta.db_table,
    "event": Event._meta.db_table, "signup": SignUp._meta.db_table, "checkin": CheckIn._meta.db_table,
    "order": orders_sql.ORDER, "member": members_sql.MEMBER, "live": members_sql.live("m"),
    "feedback": EventFeedback._meta.db_table,
}


# One row per community: members and growth, active members, events held, their seated sign-ups,
# attended, repeat attendees, and net order value of the community's members against the store's
# other live members (home store = the community's store, not a current member of it).
FIGURES_SQL = """
WITH c AS (SELECT id, store_id FROM {community} WHERE id = ANY(%(ids)s)),
mem AS (
    SELECT cm.community_id, cm.member_id, cm.joined_at FROM {membership} cm
    JOIN c ON c.id = cm.community_id JOIN {member} m ON m.id = cm.member_id AND {live}
    WHERE cm.left_at IS NULL),
held AS (SELECT e.id, e.community_id FROM {event} e JOIN c ON c.id = e.community_id
         WHERE e.status = 'open' AND e.starts_at <= %(now)s),
seated AS (SELECT h.community_id, s.state FROM {signup} s JOIN held h ON h.id = s.event_id
           WHERE s.state IN ('confirmed', 'offered', 'attended')),
came AS (SELECT h.community_id, ck.member_id, count(DISTINCT ck.event_id) AS events
         FROM {checkin} ck JOIN held h ON h.id = ck.event_id GROUP BY h.community_id, ck.member_id),
recent AS (
    SELECT e.community_id, s.member_id FROM {signup} s JOIN {event} e ON e.id = s.event_id
    JOIN c ON c.id = e.community_id WHERE s.created_at >= %(active_since)s
    UNION
    SELECT e.community_id, ck.member_id FROM {checkin} ck JOIN {event} e ON e.id = ck.event_id
    JOIN c ON c.id = e.community_id WHERE ck.at >= %(active_since)s),
others AS (
    SELECT c.id AS community_id, m.id AS member_id FROM c JOIN {member} m ON m.home_store_id = c.store_id AND {live}
    WHERE NOT EXISTS (SELECT 1 FROM mem WHERE mem.community_id = c.id AND mem.member_id = m.id)),
spend AS (
    SELECT o.member_id, sum(o.total_amount - o.refunded_amount) AS net FROM {order} o
    WHERE o.placed_at >= %(spend_since)s
      AND o.member_id IN (SELECT member_id FROM mem UNION SELECT member_id FROM others)
    GROUP BY o.member_id)
SELECT c.id,
    (SELECT count(*) FROM mem WHERE mem.community_id = c.id),
    (SELECT count(*) FROM mem WHERE mem.community_id = c.id AND mem.joined_at >= %(growth_since)s),
    (SELECT count(*) FROM mem JOIN recent r ON r.community_id = mem.community_id AND r.member_id = mem.member_id
     WHERE mem.community_id = c.id),
    (SELECT count(*) FROM held WHERE held.community_id = c.id),
    (SELECT count(*) FROM seated WHERE seated.community_id = c.id),
    (SELECT count(*) FROM seated WHERE seated.community_id = c.id AND seated.state = 'attended'),
    (SELECT count(*) FROM came WHERE came.community_id = c.id AND came.events >= 2),
    (SELECT coalesce(sum(spend.net), 0) FROM mem JOIN spend ON spend.member_id = mem.member_id
     WHERE mem.community_id = c.id),
    (SELECT count(*) FROM others WHERE others.community_id = c.id),
    (SELECT coalesce(sum(spend.net), 0) FROM others JOIN spend ON spend.member_id = others.member_id
     WHERE others.community_id = c.id),
    (SELECT count(*) FROM {feedback} f JOIN held h ON h.id = f.event_id WHERE h.community_id = c.id),
    (SELECT avg(f.rating) FROM {feedback} f JOIN held h ON h.id = f.event_id WHERE h.community_id = c.id)
FROM c ORDER BY c.id
"""

# The store as a whole: its live members, those in at least one of its communities (current), the
# ones who joined one in the last 30 days, and net order value of the two groups.
STORE_SQL = """
WITH inc AS (
    SELECT DISTINCT cm.member_id FROM {membership} cm JOIN {community} co ON co.id = cm.community_id
    JOIN {member} m ON m.id = cm.member_id AND {live}
    WHERE co.store_id = %(store)s AND cm.left_at IS NULL),
fresh AS (
    SELECT DISTINCT cm.member_id FROM {membership} cm JOIN {community} co ON co.id = cm.community_id
    WHERE co.store_id = %(store)s AND cm.left_at IS NULL AND cm.joined_at >= %(growth_since)s),
others AS (
    SELECT m.id AS member_id FROM {member} m WHERE m.home_store_id = %(store)s AND {live}
    AND NOT EXISTS (SELECT 1 FROM inc WHERE inc.member_id = m.id)),
spend AS (
    SELECT o.member_id, sum(o.total_amount - o.refunded_amount) AS net FROM {order} o
    WHERE o.placed_at >= %(spend_since)s
      AND o.member_id IN (SELECT member_id FROM inc UNION SELECT member_id FROM others)
    GROUP BY o.member_id)
SELECT (SELECT count(*) FROM inc), (SELECT count(*) FROM fresh),
    (SELECT coalesce(sum(net), 0) FROM inc JOIN spend USING (member_id)),
    (SELECT count(*) FROM others),
    (SELECT coalesce(sum(net), 0) FROM others JOIN spend USING (member_id))
"""


def _share(part, whole):
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _per_member(total, count):
    if not count:
        return None
    return (Decimal(total) / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _params(now, **extra) -> dict:
    return {"now": now, "growth_since": now - dt.timedelta(days=GROWTH_DAYS),
            "active_since": now - dt.timedelta(days=ACTIVE_DAYS),
            "spend_since": now - dt.timedelta(days=PURCHASE_DAYS), **extra}


def community_figures(community_ids, *, now=None) -> dict[int, dict]:
    """{community id: figures} for communities the caller already reached (scoped), one statement."""
    ids = list(community_ids)
    if not ids:
        return {}
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(FIGURES_SQL.format(**TABLES), _params(now, ids=ids))
        rows = cursor.fetchall()
    figures = {}
    for (pk, members, joined, active, held, signed, attended, repeat, member_spend, others,
         others_spend, ratings, rating_avg) in rows:
        figures[pk] = {
            "members": members, "joined_30_days": joined, "active_members": active,
            "active_share": _share(active, members), "events_held": held, "signups": signed,
            "attended": attended, "attendance_rate": _share(attended, signed), "repeat_attendees": repeat,
            "order_value_per_member": _per_member(member_spend, members),
            "other_store_members": others, "other_order_value_per_member": _per_member(others_spend, others),
            "ratings": ratings, "rating_average": _rating(rating_avg),
        }
    return figures


def _rating(value):
    return None if value is None else Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def event_ratings(event_ids) -> dict[int, dict]:
    """{event id: {"count", "average"}} of the events' feedback, one query."""
    ratings = {pk: {"count": 0, "average": None} for pk in event_ids}
    rows = (EventFeedback.objects.filter(event_id__in=list(event_ids)).values("event_id")
            .annotate(n=Count("id"), avg=Avg("rating")))
    for r in rows:
        ratings[r["event_id"]] = {"count": r["n"], "average": _rating(r["avg"])}
    return ratings


def invitation_batches(community_id: int, *, limit: int = 20) -> list[InvitationBatch]:
    """The community's latest invitation batches, each with `handed` and `joined` counted (one query)."""
    return list(batches_with_counts(InvitationBatch.objects.filter(community_id=community_id))
                .select_related("segment", "created_by").order_by("-created_at", "-id")[:limit])


def batches_with_counts(queryset):
    handed = Invitation.objects.filter(batch_id=OuterRef("pk"), handed_at__isnull=False).exclude(handed_to="expired")
    joined = Invitation.objects.filter(batch_id=OuterRef("pk"), joined_at__isnull=False)
    return queryset.annotate(
        handed=Coalesce(Subquery(handed.values("batch_id").annotate(n=Count("id")).values("n")), 0),
        joined=Coalesce(Subquery(joined.values("batch_id").annotate(n=Count("id")).values("n")), 0))


def store_figures(store_id: int, user, *, now=None) -> dict:
    """The store's figures panel: each of its communities the user reaches (one statement) and the
    store as a whole (a second)."""
    now = now or timezone.now()
    communities = list(Community.objects.visible_to(user).filter(store_id=store_id).order_by("name"))
    per = community_figures([c.pk for c in communities], now=now)
    with connection.cursor() as cursor:
        cursor.execute(STORE_SQL.format(**TABLES), _params(now, store=store_id))
        in_any, fresh, in_spend, others, others_spend = cursor.fetchone()
    return {
        "rows": [(c, per[c.pk]) for c in communities],
        "community_members": in_any, "joined_30_days": fresh,
        "order_value_per_member": _per_member(in_spend, in_any),
        "other_store_members": others, "other_order_value_per_member": _per_member(others_spend, others),
    }
