"""The cockpit's sections over the apps above the member centre: campaigns (sends, delivery, clicks,
attributed orders, uplift against the holdout), staff tasks, community activity, KOC output and
media value, and WeCom churn (customers deleting staff). Member figures count distinct members in
the activity summary (MemberActivity) and drill down to the "did" filter over the same rows; task
and event figures are read from the staff summary (StaffDay); campaign figures from the campaigns'
results summary (CampaignFigures), which the cockpit's refresh keeps summed for every campaign; they
drill down to the "campaign_part" and "campaigns_part" filters over the deliveries, clicks and last
touches the summary sums. How many distinct members a total's list opens is read from the campaign
members summary (PeriodCampaignMembers) for the preset periods, counted live for other periods while
their campaigns are small, and left to the list past that."""

from __future__ import annotations

import time
from collections import defaultdict
from decimal import Decimal

from django.db import OperationalError, connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign, CampaignFigures, CampaignFiguresRun
from communities.models import Community, CommunityStatus
from insights.cockpit import definitions as d
from insights.cockpit.activity import MOVED
from insights.cockpit.base import (
    PRESETS,
    Chart,
    Cockpit,
    Figure,
    Period,
    Row,
    SectionData,
    Table,
    ratio,
    register_section,
)
from insights.cockpit.members import _rows, as_of
from insights.models import (
    ActivityKind,
    CampaignSet,
    MemberActivity,
    PeriodActivity,
    PeriodCampaignMembers,
    StaffDay,
    StaffMetric,
    StageMove,
)
from insights.segments import CAMPAIGN_PARTS
from journeys.models import TaskOutcome, TaskState
from koc.models import Platform, PostDay
from scrm.models import Store
from scrm.scoping import access_for

CAMPAIGN_ROWS = 20  # the campaigns table lists the latest; the cards count them all
LISTED_BUDGET_MS = 2_500  # the campaign totals' members, counted live, within this altogether
LISTED_MAX_DELIVERIES = 20_000  # and only while the period's campaigns have this many recipients or fewer
# (past it, and for the preset periods at any size, the campaign members summary counts them)


def stored_activity(cockpit: Cockpit, kinds, windows, *, per_store: bool = False):
    """({(kind, first day, last day[, store]): {"members", "rows", "value"}}, when counted) for these
    kinds and windows ((first, last day) pairs) as the cockpit reads them (the whole brand, or the
    store it is cut to; `per_store`: each store the reader sees), from the activity per period
    summary; None unless it keeps every one of them."""
    kinds, windows = [str(k) for k in kinds], list(windows)
    wanted = {(k, first, last) for k in kinds for first, last in windows}
    starts = {first for first, _last in windows}
    kept = {(k, first, last): at for k, first, last, at in PeriodActivity.objects.filter(
        kind__in=kinds, whole_brand=True, start__in=starts).values_list("kind", "start", "end", "computed_at")}
    if not wanted <= set(kept):
        return None
    rows = PeriodActivity.objects.visible_to(cockpit.actor).filter(kind__in=kinds, start__in=starts)
    if cockpit.whole_brand and not per_store:
        rows = rows.filter(whole_brand=True)
    else:
        rows = rows.filter(whole_brand=False)
        if cockpit.store_id is not None:
            rows = rows.filter(store_id=cockpit.store_id)
    out = {}
    for kind, first, last, store, members, n, value in rows.values_list(
            "kind", "start", "end", "store", "members", "rows", "value"):
        if (kind, first, last) in wanted:
            key = (kind, first, last, store) if per_store else (kind, first, last)
            out[key] = {"members": members, "rows": n, "value": value}
    return out, min(kept[w] for w in wanted)


def _live_rows(cockpit: Cockpit, kind: str, period: Period):
    """The summary rows a count of `kind` in the period reads: the activity's, or the stage moves'."""
    if kind.startswith(MOVED):
        return _rows(cockpit, StageMove).filter(stage=kind[len(MOVED):], day__range=(period.start, period.end))
    return _rows(cockpit, MemberActivity).filter(kind=kind, day__range=(period.start, period.end))


def activity(cockpit: Cockpit, kind: str, period: Period) -> dict:
    """Distinct members with `kind` in the period, their rows and the rows' value, and when counted:
    from the activity per period summary where it keeps the period, else from the activity (or
    stage move) summary."""
    kind = str(kind)
    stored = stored_activity(cockpit, [kind], [(period.start, period.end)])
    if stored is not None:
        rows, at = stored
        row = rows.get((kind, period.start, period.end)) or {"members": 0, "rows": 0, "value": Decimal(0)}
        return {**row, "as_of": at}
    if kind.startswith(MOVED):
        out = _live_rows(cockpit, kind, period).aggregate(members=Count("member", distinct=True))
        return {**out, "rows": out["members"], "value": Decimal(0), "as_of": as_of("stage_moves")}
    out = _live_rows(cockpit, kind, period).aggregate(
        members=Count("member", distinct=True), rows=Sum("rows", default=0), value=Sum("value", default=Decimal(0)))
    return {**out, "as_of": as_of("activity")}


def older(*moments):
    """The oldest of these moments (None: none known)."""
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _bucketed(cockpit: Cockpit, kinds, period: Period, fresh) -> tuple[dict, object]:
    """({(kind, bucket index): distinct members} over the period's buckets (days, or weeks from its
    first day), when counted): from the activity per period summary where it keeps every bucket,
    else from the activity summary."""
    buckets = period.buckets()
    kinds = [str(k) for k in kinds]
    stored = stored_activity(cockpit, kinds, [(b.start, b.end) for b in buckets])
    if stored is not None:
        rows, at = stored
        return {(kind, i): rows[(kind, b.start, b.end)]["members"] for kind in kinds for i, b in enumerate(buckets)
                if (kind, b.start, b.end) in rows}, at
    step = buckets[0].days if buckets else 1
    store = "AND store_id = %(store)s" if cockpit.store_id is not None else ""
    sql = (f"SELECT kind, (day - %(start)s) / %(step)s, count(DISTINCT member_id) FROM {MemberActivity._meta.db_table} "
           f"WHERE kind = ANY(%(kinds)s) AND day BETWEEN %(start)s AND %(end)s {store} GROUP BY 1, 2")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"kinds": kinds, "start": period.start, "end": period.end,
                             "step": step, "store": cockpit.store_id})
        return {(kind, b): n for kind, b, n in cursor.fetchall()}, fresh


def activity_figure(cockpit: Cockpit, key: str, label: str, kind: str, fresh=None, note: str = "") -> Figure:
    period, previous = cockpit.period, cockpit.period.previous
    now, before = activity(cockpit, kind, period), activity(cockpit, kind, previous)
    return Figure(key, label, now["members"], before["members"], as_of=older(now["as_of"], before["as_of"]),
                  note=note, definition=cockpit.where(d.did(period, kind)),
                  previous_definition=cockpit.where(d.did(previous, kind)))


def activity_trend(cockpit: Cockpit, key: str, title: str, kinds: list[tuple[str, str]], fresh) -> Chart:
    period = cockpit.period
    buckets = period.buckets()
    counts, at = _bucketed(cockpit, [k for k, _label in kinds], period, fresh)
    series = [(label, [Figure(f"{key}_{kind}_{b.start}", b.start.isoformat(), counts.get((str(kind), i), 0),
                              as_of=at, definition=cockpit.where(d.did(b, kind)))
                       for i, b in enumerate(buckets)]) for kind, label in kinds]
    return Chart(key, title, "line", [b.start.isoformat() for b in buckets], series,
                 description=_("Members per day or week; click a point for its members."))


def _not_built(section: SectionData, fresh, name) -> SectionData:
    if fresh is None:
        section.notes.append(_("The %(summary)s summary has not been built yet: it is at the next scheduled "
                               "refresh.") % {"summary": name})
    return section


# --- campaigns -------------------------------------------------------------------------------------


def _campaigns(cockpit: Cockpit, period: Period):
    since, until = period.bounds()
    rows = Campaign.objects.visible_to(cockpit.actor).filter(started_at__gte=since, started_at__lt=until)
    if cockpit.store is not None:  # the brand's campaigns and the store's own
        rows = rows.filter(Q(store__isnull=True) | Q(store_id=cockpit.store.pk))
    return rows


def _campaign_totals(cockpit: Cockpit, campaigns) -> dict:
    rows = CampaignFigures.objects.filter(campaign__in=campaigns.values("pk"))
    if cockpit.store is not None:
        rows = rows.filter(home_store_id=cockpit.store.pk)
    sums = {
        "targeted": Sum("members", default=0),
        "suppressed": Sum("members", filter=Q(state="suppressed"), default=0),
        "sent": Sum("members", filter=Q(state__in=["sent", "accepted"]), default=0),
        "delivered": Sum("members", filter=Q(state="sent"), default=0),
        "held": Sum("members", filter=Q(state="held_out"), default=0),
        "clicked": Sum("clicked", default=0), "converted": Sum("converted", default=0),
        "orders": Sum("orders", default=0), "revenue": Sum("revenue", default=Decimal(0)),
        "sent_buyers": Sum("buyers", filter=Q(state="sent"), default=0),
        "held_buyers": Sum("buyers", filter=Q(state="held_out"), default=0),
    }
    total = rows.aggregate(**sums)
    per = {r["campaign_id"]: r for r in rows.values("campaign_id").annotate(**sums).order_by()}
    return {"total": total, "per": per}


def _uplift(row: dict) -> float | None:
    """Conversion of the sent minus that of the held out, over the window's orders."""
    sent, held = ratio(row["sent_buyers"], row["delivered"]), ratio(row["held_buyers"], row["held"])
    return round(sent - held, 4) if sent is not None and held is not None else None


def campaign_set(cockpit: Cockpit) -> str:
    """Which campaigns the section sums, as the drill-down names them: every campaign (the brand),
    the brand's and the store's (an operator cut to a store) or the store's own (a store role)."""
    if cockpit.store is None:
        return "all"
    return f"brand+{cockpit.store.pk}" if access_for(cockpit.actor).all_stores else f"store:{cockpit.store.pk}"


def listed(cockpit: Cockpit, definitions: dict) -> dict:
    """{key: how many members the member list shows for the definition}, counted as the list counts
    them, all within LISTED_BUDGET_MS (None past it: the figure's link opens the list all the same)."""
    from members.segments.audience import Audience

    out, started = dict.fromkeys(definitions), time.perf_counter()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for key, definition in definitions.items():
                left = LISTED_BUDGET_MS - int((time.perf_counter() - started) * 1000)
                if left <= 0:
                    break
                cursor.execute("SET LOCAL statement_timeout = %s", [left])
                out[key] = Audience(definition, actor=cockpit.actor).count
    except OperationalError:  # the budget ran out mid-count: the counts made so far stand
        pass
    return out


def stored_members(cockpit: Cockpit, period: Period) -> tuple[dict, object] | None:
    """({part: distinct members}, when counted) of the campaigns the section sums in the period, from
    the campaign members summary; None when it keeps no rows of the period (not a preset, or not
    built yet)."""
    marker = PeriodCampaignMembers.objects.filter(start=period.start, end=period.end, whole_brand=True).first()
    if marker is None:
        return None
    which = campaign_set(cockpit)
    rows = PeriodCampaignMembers.objects.visible_to(cockpit.actor).filter(start=period.start, end=period.end)
    if which == CampaignSet.ALL:
        rows = rows.filter(whole_brand=True)
    else:  # "brand+<store>" or "store:<store>": that store's row of the set
        prefix = CampaignSet.BRAND_AND_STORE if which.startswith(CampaignSet.BRAND_AND_STORE) else CampaignSet.STORE
        rows = rows.filter(whole_brand=False, store_id=cockpit.store.pk, campaigns=prefix)
    row = rows.first()  # none: no member of the store got one of the period's campaigns
    return {part: getattr(row, part) if row else 0 for part in CAMPAIGN_PARTS}, marker.computed_at


# The funnel's totals: (figure key, label, the summary's sum, the drill-down's part).
CAMPAIGN_TOTALS = (
    ("campaign_targeted", gettext_lazy("Targeted"), "targeted", "targeted"),
    ("campaign_suppressed", gettext_lazy("Suppressed"), "suppressed", "suppressed"),
    ("campaign_sent", gettext_lazy("Messages sent"), "sent", "sent"),
    ("campaign_delivered", gettext_lazy("Delivered"), "delivered", "delivered"),
    ("campaign_clicked", gettext_lazy("Recipients who clicked"), "clicked", "clicked"),
    ("campaign_converted", gettext_lazy("Recipients who ordered"), "converted", "converted"),
)


def campaigns_section(cockpit: Cockpit) -> SectionData:
    period, previous = cockpit.period, cockpit.period.previous
    now_campaigns, before_campaigns = _campaigns(cockpit, period), _campaigns(cockpit, previous)
    now, before = _campaign_totals(cockpit, now_campaigns), _campaign_totals(cockpit, before_campaigns)
    ids = list(now_campaigns.values_list("pk", flat=True)[:5000])
    runs = CampaignFiguresRun.objects.filter(campaign_id__in=ids, computed_at__isnull=False)
    fresh = runs.aggregate(oldest=Min("computed_at"))["oldest"]
    summed = set(runs.values_list("campaign_id", flat=True))
    t, p = now["total"], before["total"]
    which = campaign_set(cockpit)

    def part(p_: Period, name: str) -> dict:
        return cockpit.where(d.campaigns_part(p_, name, which))

    # A member who got two campaigns counts in each total; the drill-down lists them once. Those
    # distinct members come from their summary for the preset periods; other periods count them live
    # while the campaigns are small (the converted, orders and their last touches, cost the most:
    # counted last); past LISTED_MAX_DELIVERIES the counts would only spend the budget.
    parts = sorted(CAMPAIGN_PARTS, key=lambda name: name == "converted")
    stored = stored_members(cockpit, period)
    small = t["targeted"] <= LISTED_MAX_DELIVERIES
    if stored is not None:
        counts, counted_at = stored
        totals_as_of = min(fresh, counted_at) if fresh is not None else counted_at  # the older of the two
    else:
        counts = dict.fromkeys(parts) | (listed(cockpit, {name: part(period, name) for name in parts}) if small else {})
        totals_as_of = fresh
    funnel = [Figure(key, str(label), t[total], p[total], kind="count", as_of=totals_as_of,
                     definition=part(period, name), previous_definition=part(previous, name), members=counts[name])
              for key, label, total, name in CAMPAIGN_TOTALS]
    funnel[-1].note = _("Orders attributed to the campaign's last touch within the window.")
    converted = {"definition": part(period, "converted"), "previous_definition": part(previous, "converted"),
                 "members": counts["converted"]}
    figures = [
        Figure("campaigns_started", _("Campaigns started"), len(ids), before_campaigns.count(), kind="count",
               note=_("Campaigns, not members: no member list to open.")),
        *funnel,
        Figure("campaign_held_out", _("Held out"), t["held"], p["held"], kind="count", as_of=totals_as_of,
               definition=part(period, "held_out"), previous_definition=part(previous, "held_out"),
               members=counts["held_out"]),
        Figure("campaign_orders", _("Orders attributed"), t["orders"], p["orders"], kind="count",
               as_of=totals_as_of,
               note=_("Opens the recipients who ordered."), **converted),
        Figure("campaign_revenue", _("Revenue attributed"), t["revenue"], p["revenue"], kind="money",
               as_of=totals_as_of,
               note=_("Opens the recipients who ordered."), **converted),
        Figure("campaign_uplift", _("Uplift against the holdout"), _uplift(t), _uplift(p), kind="ratio",
               as_of=fresh, note=_("Conversion of the delivered minus that of the held out, in points.")),
    ]
    table_rows = []
    for campaign in now_campaigns.order_by("-started_at", "-pk")[:CAMPAIGN_ROWS]:
        row = now["per"].get(campaign.pk)
        has = campaign.pk in summed

        def cell(key, label, value, kind="count", part=None, members=None, has=has, campaign=campaign):
            definition = cockpit.where(d.campaign_part(campaign.pk, part)) if part and has else None
            return Figure(f"{key}_{campaign.pk}", label, value if has else None, kind=kind, definition=definition,
                          members=members if has else None, as_of=fresh)

        r = row or dict.fromkeys(("targeted", "suppressed", "sent", "delivered", "held", "clicked", "converted",
                                  "orders", "sent_buyers", "held_buyers"), 0) | {"revenue": Decimal(0)}
        table_rows.append(Row(str(campaign.pk), campaign.name, [
            cell("c_targeted", _("Targeted"), r["targeted"], "members", "targeted"),
            cell("c_suppressed", _("Suppressed"), r["suppressed"], "members", "suppressed"),
            cell("c_sent", _("Sent"), r["sent"], "members", "sent"),
            cell("c_delivered", _("Delivered"), r["delivered"], "members", "delivered"),
            cell("c_held", _("Held out"), r["held"], "members", "held_out"),
            cell("c_clicked", _("Clicked"), r["clicked"], "members", "clicked"),
            cell("c_converted", _("Ordered"), r["converted"], "members", "converted"),
            cell("c_orders", _("Orders attributed"), r["orders"], "count", "converted", r["converted"]),
            cell("c_revenue", _("Revenue attributed"), r["revenue"], "money", "converted", r["converted"]),
            cell("c_uplift", _("Uplift"), _uplift(r), "ratio"),
        ]))
    table = Table("campaigns", _("Campaigns started in the period"),
                  [_("Targeted"), _("Suppressed"), _("Sent"), _("Delivered"), _("Held out"), _("Clicked"),
                   _("Ordered"), _("Orders attributed"), _("Revenue attributed"), _("Uplift")], table_rows,
                  label_header=_("Campaign"))
    chart = Chart("campaign_funnel", _("Campaign funnel"), "bar", [f.label for f in funnel],
                  [(_("This period"), funnel)])
    section = SectionData("campaigns", _("Campaigns"), figures=figures, tables=[table], charts=[chart])
    missing = len(set(ids) - summed)
    if missing:
        section.notes.append(_("%(n)s campaigns started in the period are not summed yet; they are at the next "
                               "refresh.") % {"n": missing})
    if stored is not None:
        section.notes.append(_("The members of the totals (each counted once) as of the campaign members "
                               "summary's last refresh."))
    elif not small:
        section.notes.append(
            _("The members of the totals are kept counted for the preset periods (%(presets)s days); this "
              "period's campaigns have too many recipients to count them here: their member lists count them.")
            % {"presets": ", ".join(str(days) for days in PRESETS)} if period.preset is None else
            _("The members of the totals have not been counted for this period yet: they are at the next "
              "scheduled refresh; their member lists count them."))
    elif None in counts.values():
        section.notes.append(_("The members of some totals took too long to count here: their member lists "
                               "count them."))
    section.notes.append(_("Figures of each campaign are its recipients' (held-out members never get the "
                           "message); a member who got two campaigns counts in each, and once in the member "
                           "list a total opens."))
    return section


# --- staff tasks -----------------------------------------------------------------------------------


def _staff(cockpit: Cockpit, metric: str, period: Period):
    return _rows(cockpit, StaffDay).filter(metric=metric, day__range=(period.start, period.end))


def tasks_section(cockpit: Cockpit) -> SectionData:
    from journeys.models import Task

    period, previous, fresh = cockpit.period, cockpit.period.previous, as_of("staff")

    def made(p):
        return _staff(cockpit, StaffMetric.TASKS, p).aggregate(
            total=Sum("n", default=0), done=Sum("n", filter=Q(key=TaskState.DONE), default=0))

    def done(p):
        return _staff(cockpit, StaffMetric.TASKS_DONE, p).aggregate(total=Sum("n", default=0),
                                                                    on_time=Sum("amount", default=Decimal(0)))

    m_now, m_before, d_now, d_before = made(period), made(previous), done(period), done(previous)
    open_tasks = Task.objects.visible_to(cockpit.actor).filter(state=TaskState.OPEN, due_at__lt=cockpit.now)
    if cockpit.store_id is not None:
        open_tasks = open_tasks.filter(store_id=cockpit.store_id)
    figures = [
        Figure("tasks_created", _("Tasks created"), m_now["total"], m_before["total"], kind="count", as_of=fresh),
        Figure("tasks_created_done", _("Of them done"), ratio(m_now["done"], m_now["total"]),
               ratio(m_before["done"], m_before["total"]), kind="ratio", as_of=fresh),
        Figure("tasks_done", _("Tasks done"), d_now["total"], d_before["total"], kind="count", as_of=fresh),
        Figure("tasks_on_time", _("Done on time"), ratio(d_now["on_time"], d_now["total"]),
               ratio(d_before["on_time"], d_before["total"]), kind="ratio", as_of=fresh,
               note=_("Done by the time they were due.")),
        Figure("tasks_overdue", _("Open and overdue now"), open_tasks.count(), kind="count"),
        activity_figure(cockpit, "members_served", _("Members served"), ActivityKind.SERVED, as_of("activity"),
                        note=_("Members a staff task about them was done for in the period.")),
    ]
    def outcomes(p):
        return dict(_staff(cockpit, StaffMetric.TASKS_DONE, p).values_list("key").annotate(total=Sum("n")).order_by())

    outcomes_now, outcomes_before = outcomes(period), outcomes(previous)
    labels = dict(TaskOutcome.choices) | {"": _("No outcome")}
    keys = sorted(set(outcomes_now) | set(outcomes_before), key=lambda k: -(outcomes_now.get(k) or 0))
    table = Table("task_outcomes", _("Outcomes of the tasks done"), [_("Tasks done")],
                  [Row(k or "none", str(labels.get(k, k)), [Figure(f"outcome_{k or 'none'}", str(labels.get(k, k)),
                                                                   outcomes_now.get(k, 0), outcomes_before.get(k, 0),
                                                                   kind="count", as_of=fresh)]) for k in keys],
                  label_header=_("Outcome"))
    buckets = period.buckets()
    per_day = defaultdict(int)
    for metric, day, n in (_rows(cockpit, StaffDay).filter(metric__in=[StaffMetric.TASKS, StaffMetric.TASKS_DONE],
                                                          day__range=(period.start, period.end))
                           .values_list("metric", "day").annotate(total=Sum("n")).order_by()):
        per_day[(metric, day)] += n

    def points(metric):
        return [Figure(f"trend_{metric}_{b.start}", b.start.isoformat(),
                       sum(v for (mt, day), v in per_day.items() if mt == metric and b.start <= day <= b.end),
                       kind="count", as_of=fresh) for b in buckets]

    chart = Chart("tasks_trend", _("Tasks created and done"), "line", [b.start.isoformat() for b in buckets],
                  [(_("Created"), points(StaffMetric.TASKS)), (_("Done"), points(StaffMetric.TASKS_DONE))])
    return _not_built(SectionData("tasks", _("Staff tasks"), figures=figures, tables=[table], charts=[chart]),
                      fresh, _("staff"))


# --- communities -----------------------------------------------------------------------------------


def communities_section(cockpit: Cockpit) -> SectionData:
    period, previous, fresh = cockpit.period, cockpit.period.previous, as_of("activity")
    groups = Community.objects.visible_to(cockpit.actor).filter(status=CommunityStatus.ACTIVE)
    if cockpit.store_id is not None:
        groups = groups.filter(store_id=cockpit.store_id)

    def events(p):
        rows = _staff(cockpit, StaffMetric.EVENTS_RUN, p).exclude(key="cancelled")
        return rows.aggregate(total=Sum("n", default=0))["total"]

    figures = [
        Figure("communities_active", _("Active interest groups"), groups.count(), kind="count"),
        activity_figure(cockpit, "community_joined", _("Members who joined a group"), ActivityKind.COMMUNITY_JOINED,
                        fresh),
        Figure("events_run", _("Events held"), events(period), events(previous), kind="count", as_of=as_of("staff"),
               note=_("Events starting in the period, not cancelled.")),
        activity_figure(cockpit, "signed_up", _("Members who signed up"), ActivityKind.SIGNED_UP, fresh),
        activity_figure(cockpit, "checked_in", _("Members who checked in"), ActivityKind.CHECKED_IN, fresh),
    ]
    kinds = [(ActivityKind.COMMUNITY_JOINED, _("Joined a group")), (ActivityKind.SIGNED_UP, _("Signed up")),
             (ActivityKind.CHECKED_IN, _("Checked in"))]
    chart = activity_trend(cockpit, "community_trend", _("Community activity"), kinds, fresh)
    return _not_built(SectionData("communities", _("Communities"), figures=figures, charts=[chart]), fresh,
                      _("activity"))


# --- KOC -------------------------------------------------------------------------------------------


def koc_section(cockpit: Cockpit) -> SectionData:
    period, previous, fresh = cockpit.period, cockpit.period.previous, as_of("activity")
    now, before = activity(cockpit, ActivityKind.POSTED, period), activity(cockpit, ActivityKind.POSTED, previous)
    fresh = older(now["as_of"], before["as_of"])
    posted, posted_before = (cockpit.where(d.did(period, ActivityKind.POSTED)),
                             cockpit.where(d.did(previous, ActivityKind.POSTED)))
    figures = [
        Figure("creators_posted", _("Creators who published"), now["members"], before["members"], as_of=fresh,
               definition=posted, previous_definition=posted_before),
        Figure("posts", _("Posts published"), now["rows"], before["rows"], kind="count", as_of=fresh,
               definition=posted, previous_definition=posted_before, members=now["members"],
               note=_("Opens the creators who published them.")),
        Figure("media_value", _("Media value"), now["value"], before["value"], kind="money", as_of=fresh,
               definition=posted, previous_definition=posted_before, members=now["members"],
               note=_("What the posts' reach would cost in ads, at the platforms' rates.")),
    ]

    def per_platform(p: Period):
        days = PostDay.objects.filter(day__range=(p.start, p.end))
        if cockpit.store_id is not None:
            days = days.filter(store_id=cockpit.store_id)
        rows = days.values("platform").annotate(posts=Sum("posts"), views=Sum("views"), value=Sum("media_value"))
        return {r["platform"]: r for r in rows.order_by()}, days.aggregate(at=Max("refreshed_at"))["at"]

    (platform_now, koc_fresh), (platform_before, _at) = per_platform(period), per_platform(previous)
    platforms = dict(Platform.choices)
    rows = []
    for key in sorted(set(platform_now) | set(platform_before),
                      key=lambda k: (-(platform_now.get(k, {}).get("value") or 0), k)):
        p_now, p_before = platform_now.get(key, {}), platform_before.get(key, {})
        label = str(platforms.get(key, key))
        rows.append(Row(key, label, [
            Figure(f"koc_{name}_{key}", label, p_now.get(column) or zero, p_before.get(column) or zero, kind=kind,
                   as_of=koc_fresh)
            for name, column, kind, zero in (("posts", "posts", "count", 0), ("views", "views", "count", 0),
                                             ("value", "value", "money", Decimal(0)))]))
    table = Table("koc_platforms", _("Posts by platform"), [_("Posts"), _("Views"), _("Media value")], rows,
                  label_header=_("Platform"))
    chart = activity_trend(cockpit, "koc_trend", _("Creators who published"),
                           [(ActivityKind.POSTED, _("Creators who published"))], fresh)
    section = SectionData("koc", _("KOC output"), figures=figures, tables=[table], charts=[chart])
    section.notes.append(_("Views by platform as of the creators' summary's last refresh."))
    return _not_built(section, fresh, _("activity"))


# --- WeCom churn -----------------------------------------------------------------------------------


def churn_section(cockpit: Cockpit) -> SectionData:
    period, previous, fresh = cockpit.period, cockpit.period.previous, as_of("activity")
    kind = ActivityKind.DELETED_STAFF
    now, before = activity(cockpit, kind, period), activity(cockpit, kind, previous)
    deleted = activity_figure(cockpit, "deleted_staff", _("Customers who deleted staff"), kind)
    figures = [
        deleted,
        Figure("deletions", _("Staff deleted by customers"), now["rows"], before["rows"], kind="count",
               as_of=deleted.as_of,
               definition=deleted.definition, previous_definition=deleted.previous_definition,
               members=deleted.value,
               note=_("A customer who deleted two staff members counts twice here, once in the member list.")),
    ]

    def per_store(p: Period) -> dict:
        stored = stored_activity(cockpit, [kind], [(p.start, p.end)], per_store=True)
        if stored is not None:
            return {key[3]: row["members"] for key, row in stored[0].items()}, stored[1]
        return dict(_rows(cockpit, MemberActivity).filter(kind=kind, day__range=(p.start, p.end))
                    .values_list("store").annotate(n=Count("member", distinct=True)).order_by()), fresh

    (store_now, fresh_now), (store_before, fresh_before) = per_store(period), per_store(previous)
    fresh = older(fresh_now, fresh_before, deleted.as_of)
    stores = {s.pk: s for s in Store.objects.filter(pk__in=[k for k in (*store_now, *store_before) if k])}
    rows = []
    for store_id in sorted(set(store_now) | set(store_before), key=lambda k: (-store_now.get(k, 0), k or 0)):
        store = stores.get(store_id)
        label = f"{store.code} {store.name}" if store else _("No home store")
        rows.append(Row(str(store_id or 0), label, [Figure(
            f"churn_store_{store_id or 0}", label, store_now.get(store_id, 0), store_before.get(store_id, 0),
            as_of=fresh, definition=cockpit.where(d.did(period, kind), d.home_store(store_id)),
            previous_definition=cockpit.where(d.did(previous, kind), d.home_store(store_id)))]))
    table = Table("churn_by_store", _("Customers who deleted staff, by store"), [_("Customers")], rows,
                  label_header=_("Store"))
    chart = activity_trend(cockpit, "churn_trend", _("Customers who deleted staff"),
                           [(kind, _("Customers who deleted staff"))], fresh)
    return _not_built(SectionData("churn", _("WeCom churn"), figures=figures, tables=[table], charts=[chart]),
                      fresh, _("activity"))


def register() -> None:
    register_section("campaigns", gettext_lazy("Campaigns"), build=campaigns_section, order=40)
    register_section("tasks", gettext_lazy("Staff tasks"), build=tasks_section, order=50)
    register_section("communities", gettext_lazy("Communities"), build=communities_section, order=60)
    register_section("koc", gettext_lazy("KOC output"), build=koc_section, order=70)
    register_section("churn", gettext_lazy("WeCom churn"), build=churn_section, order=80)
