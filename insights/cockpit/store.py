"""The store page: one store's resources as the seeds count them (members in its pool, potential
members who have not bought, converted members who have, members served by its staff), its staff
leaderboard (members added, tasks done, events run, sales credited) and its overdue tasks by staff.
Operators choose the store; a store manager reads theirs."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from insights.cockpit import definitions as d
from insights.cockpit.base import Cockpit, Figure, Row, SectionData, Table, ratio, register_section
from insights.cockpit.engagement import activity
from insights.cockpit.members import _pools, _rows, as_of
from insights.models import ActivityKind, DailyMembers, MemberDimension, StaffDay, StaffMetric
from scrm.errors import InvalidInput
from scrm.models import User

LEADERBOARD_ROWS = 50


def _need_store(cockpit: Cockpit) -> None:
    if cockpit.store is None:
        raise InvalidInput(details={"store": [_("Choose a store: the store page shows one store.")]})


def resources_section(cockpit: Cockpit) -> SectionData:
    """The store's members now (beside the pool at the end of the period before), how many of them
    have bought (converted) and not (potential) now and at the end of the period before, from the
    summaries; and those served in the period (and the period before)."""
    _need_store(cockpit)
    period, previous = cockpit.period, cockpit.period.previous
    today = timezone.localdate(cockpit.now)
    fresh, bought_fresh = as_of("members"), as_of("activity")
    pools = _pools(cockpit, period).values()
    pool = {"now": sum(p[4] for p in pools), "before": sum(p[3] for p in pools)}
    # Converted by the end of the period before: a first order by then, of a member who had joined
    # by then (an order can be linked to a member who joined after it): the members' summary keeps
    # each converted member on the later of the two days, so this is all of them less the days after.
    converted_rows = _rows(cockpit, DailyMembers).filter(dimension=MemberDimension.CONVERTED).aggregate(
        now=Sum("members", default=0), after=Sum("members", filter=Q(day__gt=previous.end), default=0))
    converted, converted_before = converted_rows["now"], converted_rows["now"] - converted_rows["after"]
    potential, potential_before = max(pool["now"] - converted, 0), max(pool["before"] - converted_before, 0)
    joined, joined_before = d.joined_by(today), d.joined_by(previous.end)
    converted_def = cockpit.where(joined, d.bought_by(today))
    converted_before_def = cockpit.where(joined_before, d.bought_by(previous.end))
    potential_def = cockpit.where(joined, d.not_bought_by(today))
    potential_before_def = cockpit.where(joined_before, d.not_bought_by(previous.end))
    served_now = activity(cockpit, ActivityKind.SERVED, period)["members"]
    served_before = activity(cockpit, ActivityKind.SERVED, previous)["members"]
    served, served_before_def = (cockpit.where(d.did(period, ActivityKind.SERVED)),
                                 cockpit.where(d.did(previous, ActivityKind.SERVED)))
    figures = [
        Figure("store_members", _("Members"), pool["now"], pool["before"], as_of=fresh,
               definition=cockpit.where(joined), previous_definition=cockpit.where(joined_before),
               note=_("Live members of the store now, beside the pool at the end of the period before.")),
        Figure("store_potential", _("Potential"), potential, potential_before, as_of=bought_fresh,
               definition=potential_def, previous_definition=potential_before_def,
               note=_("Members who have not bought yet (before: who had not by the end of the period before).")),
        Figure("store_converted", _("Converted"), converted, converted_before, as_of=bought_fresh,
               definition=converted_def, previous_definition=converted_before_def,
               note=_("Members who have bought (an order not fully refunded); before: who had by the end of the "
                      "period before.")),
        Figure("store_converted_share", _("Converted share"), ratio(converted, pool["now"]),
               ratio(converted_before, pool["before"]), kind="ratio", definition=converted_def,
               previous_definition=converted_before_def, members=converted, as_of=bought_fresh),
        Figure("store_served", _("Served"), served_now, served_before, as_of=bought_fresh, definition=served,
               previous_definition=served_before_def,
               note=_("Members a staff task about them was done for in the period.")),
        Figure("store_served_share", _("Served share of the members"), ratio(served_now, pool["now"]),
               ratio(served_before, pool["before"]), kind="ratio", definition=served,
               previous_definition=served_before_def, members=served_now, as_of=bought_fresh),
    ]
    return SectionData("store_resources", _("The store's members"), figures=figures,
                       notes=[_("Members, potential and converted as they stand now, beside the end of the period "
                                "before; served in the period. Potential and converted add up to the members.")])


METRICS = (StaffMetric.MEMBERS_ADDED, StaffMetric.TASKS_DONE, StaffMetric.EVENTS_RUN, StaffMetric.SALES)


def _per_staff(cockpit: Cockpit, period) -> dict:
    out = defaultdict(lambda: defaultdict(lambda: Decimal(0)))
    rows = (_rows(cockpit, StaffDay).filter(metric__in=METRICS, day__range=(period.start, period.end))
            .exclude(metric=StaffMetric.EVENTS_RUN, key="cancelled")
            .values_list("staff", "metric").annotate(total=Sum("n"), money=Sum("amount")).order_by())
    for staff, metric, n, amount in rows:
        out[staff][metric] += n
        if metric == StaffMetric.SALES:
            out[staff]["amount"] += amount
    return out


def leaderboard_section(cockpit: Cockpit) -> SectionData:
    _need_store(cockpit)
    period, fresh = cockpit.period, as_of("staff")
    now, before = _per_staff(cockpit, period), _per_staff(cockpit, period.previous)
    people = {u.pk: u for u in User.objects.filter(pk__in=[k for k in set(now) | set(before) if k])}
    order = sorted((k for k in now if k), key=lambda k: (-now[k]["amount"], -now[k][StaffMetric.MEMBERS_ADDED],
                                                         str(people.get(k, k))))[:LEADERBOARD_ROWS]
    rows = []
    for pk in order:
        label = str(people.get(pk, _("Former staff")))

        def cell(metric, kind="count", pk=pk, label=label):
            key = f"staff_{metric}_{pk}" if kind == "count" else f"staff_amount_{pk}"
            return Figure(key, label, now[pk][metric] if kind == "count" else now[pk]["amount"],
                          before[pk][metric] if kind == "count" else before[pk]["amount"], kind=kind, as_of=fresh)

        rows.append(Row(str(pk), label, [cell(StaffMetric.MEMBERS_ADDED), cell(StaffMetric.TASKS_DONE),
                                         cell(StaffMetric.EVENTS_RUN), cell(StaffMetric.SALES),
                                         cell(StaffMetric.SALES, "money")]))
    for row in rows:  # counts are whole numbers
        for f in row.cells:
            if f.kind == "count":
                f.value, f.previous = int(f.value), int(f.previous)
    table = Table("staff_leaderboard", _("Staff leaderboard"),
                  [_("Members added"), _("Tasks done"), _("Events run"), _("Orders credited"), _("Sales credited")],
                  rows, label_header=_("Staff"))
    section = SectionData("staff_leaderboard", _("Staff leaderboard"), tables=[table],
                          notes=[_("Events run: events of the interest groups they own. Sales: orders they are "
                                   "credited with, net of refunds.")])
    return section


def overdue_section(cockpit: Cockpit) -> SectionData:
    from journeys.models import Task, TaskState

    _need_store(cockpit)
    rows = (Task.objects.visible_to(cockpit.actor).filter(store_id=cockpit.store.pk, state=TaskState.OPEN,
                                                         due_at__lt=cockpit.now)
            .values_list("assignee").annotate(n=Count("id"), oldest=Min("due_at")).order_by("-n"))[:LEADERBOARD_ROWS]
    rows = list(rows)
    people = {u.pk: u for u in User.objects.filter(pk__in=[k for k, _n, _o in rows if k])}
    out = []
    for pk, n, oldest in rows:
        label = str(people.get(pk, _("Former staff"))) if pk else _("The store's pool")
        days = (cockpit.now - oldest).days
        out.append(Row(str(pk or 0), label, [Figure(f"overdue_{pk or 0}", label, n, kind="count"),
                                             Figure(f"overdue_days_{pk or 0}", label, days, kind="count")]))
    table = Table("overdue_tasks", _("Overdue tasks by staff"), [_("Open and overdue"), _("Oldest, days overdue")],
                  out, label_header=_("Staff"))
    return SectionData("overdue_tasks", _("Overdue tasks"), tables=[table])


def register() -> None:
    register_section("store_resources", gettext_lazy("The store's members"), build=resources_section, order=10,
                     page="store")
    register_section("staff_leaderboard", gettext_lazy("Staff leaderboard"), build=leaderboard_section, order=20,
                     page="store")
    register_section("overdue_tasks", gettext_lazy("Overdue tasks"), build=overdue_section, order=30, page="store")
