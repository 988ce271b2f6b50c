"""Read side of staff tasks: the phone's Today section and "my tasks", the store's board, the CSV
export's rows and the figures per staff member and store; and the journeys' figures per
step. Every read goes through scrm.scoping."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from journeys.models import Task, TaskOutcome, TaskPolicy, TaskState
from journeys.services import tasks as services
from loyalty.orders.models import Order, OrderStatus
from members.models import MemberTag
from scrm.models import STORE_ROLES, Role, User

POOL_SHOWN = 5
MEMBER_SHOWN = 5  # a member's open tasks on their card
TAGS_SHOWN = 3
PHONE_PAGE = 100
EXPORT_MAX = 50_000
FIGURES_STAFF_MAX = 200


def end_of_today() -> dt.datetime:
    today = timezone.localdate()
    return timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min))


def with_cards(queryset: QuerySet) -> QuerySet:
    """What a task's card shows: its member's name, tier and first tags, its assignee, in three queries."""
    tags = MemberTag.objects.select_related("tag").order_by("member_id", "-added_at", "id")
    return queryset.select_related("member", "member__tier__level", "assignee").prefetch_related(
        Prefetch("member__member_tags", queryset=tags[:TAGS_SHOWN], to_attr="first_tags"))


def open_tasks(user) -> QuerySet:
    return Task.objects.visible_to(user).filter(state=TaskState.OPEN)


def mine(user, *, when: str = "today") -> QuerySet:
    """The user's open tasks: due by the end of today (overdue included), only overdue, or later."""
    rows = open_tasks(user).filter(assignee_id=user.pk)
    now, tonight = timezone.now(), end_of_today()
    if when == "overdue":
        rows = rows.filter(due_at__lt=now)
    elif when == "upcoming":
        rows = rows.filter(due_at__gte=tonight)
    else:
        rows = rows.filter(due_at__lt=tonight)
    return rows.order_by("priority", "due_at", "id")


def pool(user) -> QuerySet:
    """The user's store's pool: open tasks nobody has, due by tonight."""
    if getattr(user, "store_id", None) is None:
        return Task.objects.none()
    return open_tasks(user).filter(store_id=user.store_id, assignee__isnull=True,
                                   due_at__lt=end_of_today()).order_by("priority", "due_at", "id")


def today_section(user) -> dict:
    """The phone's Today page: the clerk's top tasks (the policy's daily cap, by priority then due time;
    the rest stay queued), a few of the pool's, and for a manager the store's overdue tasks."""
    if getattr(user, "role", None) not in STORE_ROLES or not getattr(user, "store_id", None):
        return {"show": False}
    cap = TaskPolicy.current().daily_cap
    mine_today = mine(user)
    shown = list(with_cards(mine_today)[:cap])
    total = len(shown) if len(shown) < cap else mine_today.count()
    pool_rows = pool(user)
    pooled = list(with_cards(pool_rows)[:POOL_SHOWN])
    pool_total = len(pooled) if len(pooled) < POOL_SHOWN else pool_rows.count()
    overdue = None
    if user.role == Role.STORE_MANAGER:
        overdue = open_tasks(user).filter(store_id=user.store_id, due_at__lt=timezone.now()).count()
    return {"show": True, "tasks": shown, "queued": max(total - len(shown), 0), "pool": pooled,
            "pool_more": max(pool_total - len(pooled), 0), "overdue": overdue, "outcomes": TaskOutcome.choices}


def member_panel(member, user) -> dict:
    """The member's open tasks the user may see, theirs first, then by priority and due time: on the
    member page, the phone's member card and the WeCom chat sidebar's card, each done in a tap."""
    rows = open_tasks(user).filter(member_id=member.pk)
    theirs = Case(When(assignee_id=getattr(user, "pk", None), then=Value(0)), default=Value(1),
                  output_field=IntegerField())
    shown = list(with_cards(rows.annotate(theirs=theirs).order_by("theirs", "priority", "due_at", "id"))
                 [:MEMBER_SHOWN])
    total = len(shown) if len(shown) < MEMBER_SHOWN else rows.count()
    return {"member": member, "tasks": shown, "more": total - len(shown), "outcomes": TaskOutcome.choices}


def board(queryset: QuerySet) -> QuerySet:
    """The store's board: overdue first, then by due time."""
    now = timezone.now()
    overdue = Case(When(state=TaskState.OPEN, due_at__lt=now, then=Value(0)), default=Value(1),
                   output_field=IntegerField())
    return queryset.annotate(overdue_first=overdue).order_by("overdue_first", "due_at", "id")


def assignable_staff(user, store_ids) -> dict[int, list[User]]:
    """Active staff of each store, for the reassign pickers (only stores the user manages)."""
    store_ids = [s for s in set(store_ids) if services.manages_store(user, s)]
    found: dict[int, list[User]] = {}
    for staff in User.objects.visible_to(user).filter(store_id__in=store_ids, is_active=True,
                                                      role__in=STORE_ROLES).order_by("username"):
        found.setdefault(staff.store_id, []).append(staff)
    return found


def export_rows(queryset: QuerySet):
    """The board's rows for the CSV export, at most EXPORT_MAX, without loading them all."""
    header = ["id", "store", "kind", "title", "member_id", "member", "assignee", "priority", "state", "due_at",
              "outcome", "note", "done_at", "done_by", "source", "created_at"]
    yield header
    rows = queryset.select_related("store", "member", "assignee", "done_by").order_by("due_at", "id")
    for t in rows[:EXPORT_MAX].iterator(chunk_size=2000):
        yield [t.pk, t.store.code, t.kind, t.title_text, t.member_id or "", t.member.name if t.member_id else "",
               str(t.assignee) if t.assignee_id else "", t.get_priority_display(), t.state,
               timezone.localtime(t.due_at).isoformat(), t.outcome, t.note,
               timezone.localtime(t.done_at).isoformat() if t.done_at else "",
               str(t.done_by) if t.done_by_id else t.done_by_label, t.source,
               timezone.localtime(t.created_at).isoformat()]


def figures(user, *, since: dt.datetime, store_id: int | None = None, window_days: int | None = None) -> dict:
    """Per staff member (their assigned tasks created since `since`) and per store: created, done, done
    on time, skipped, by outcome, and orders within `window_days` after a task they did (one grouped
    query each, set-based)."""
    window = dt.timedelta(days=window_days or TaskPolicy.current().orders_window_days)
    rows = Task.objects.visible_to(user).filter(created_at__gte=since)
    if store_id:
        rows = rows.filter(store_id=store_id)
    outcome_counts = {f"outcome_{o}": Count("id", filter=Q(state=TaskState.DONE, outcome=o)) for o in TaskOutcome}
    later_order = Order.objects.filter(member_id=OuterRef("member_id"), placed_at__gt=OuterRef("done_at"),
                                       placed_at__lte=OuterRef("done_at") + window).exclude(
        status=OrderStatus.REFUNDED)
    aggregates = dict(
        created=Count("id"),
        done=Count("id", filter=Q(state=TaskState.DONE)),
        on_time=Count("id", filter=Q(state=TaskState.DONE, done_at__lte=F("due_at"))),
        skipped=Count("id", filter=Q(state=TaskState.SKIPPED)),
        expired=Count("id", filter=Q(state=TaskState.EXPIRED)),
        ordered=Count("id", filter=Q(state=TaskState.DONE, member__isnull=False, has_order=True)),
        **outcome_counts,
    )
    base = rows.annotate(has_order=Exists(later_order))
    staff_rows = list(base.values("assignee_id", "assignee__username", "assignee__display_name", "store__code")
                      .annotate(**aggregates).order_by("store__code", "assignee__username")[:FIGURES_STAFF_MAX])
    store_rows = list(base.values("store__code", "store__name").annotate(**aggregates).order_by("store__code"))
    for row in staff_rows:
        row["name"] = row["assignee__display_name"] or row["assignee__username"] or ""
    return {"staff": staff_rows, "stores": store_rows, "outcomes": TaskOutcome.choices,
            "window_days": window.days}


def member_tasks(member, reader) -> QuerySet:
    return Task.objects.visible_to(reader).filter(member=member)


# --- journeys ----------------------------------------------------------------------------------------------

def journey_figures(journey, actor) -> dict:
    """A journey's figures as `actor` may see them (a store reader: their store's members): members
    entered, inside, done, left and converted (goal met), and per step (every version with runs, the
    current one first) how many reached it, by outcome, and how many of those converted later."""
    from journeys.models import JourneyRun, JourneyRunStep, JourneyStep

    runs = JourneyRun.objects.visible_to(actor).filter(journey=journey)
    totals = runs.aggregate(entered=Count("id"), active=Count("id", filter=Q(state="active")),
                            done=Count("id", filter=Q(state="done")), exited=Count("id", filter=Q(state="exited")),
                            converted=Count("id", filter=Q(converted_at__isnull=False)))
    rows = (JourneyRunStep.objects.visible_to(actor).filter(run__journey=journey).values("step_id", "outcome")
            .annotate(n=Count("id"), converted=Count("id", filter=Q(run__converted_at__isnull=False))))
    by_step: dict[int, dict] = {}
    for row in rows:
        figures = by_step.setdefault(row["step_id"], {"reached": 0, "converted": 0, "outcomes": {}})
        figures["reached"] += row["n"]
        figures["converted"] += row["converted"]
        figures["outcomes"][row["outcome"]] = row["n"]
    versions = set(runs.values_list("version", flat=True).distinct()) | {journey.version}
    steps = JourneyStep.objects.filter(journey=journey, version__in=versions).order_by("-version", "position")
    return {
        **totals,
        "version": journey.version,
        "steps": [{"id": s.pk, "version": s.version, "position": s.position, "kind": s.kind,
                   **by_step.get(s.pk, {"reached": 0, "converted": 0, "outcomes": {}})} for s in steps],
    }
