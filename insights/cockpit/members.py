"""The cockpit's member sections: the pool (its size, new members per day or week, by source, by
channel code and by store) and the 5A funnel (members per stage now, and who moved into each stage
in the period). Pool figures are read from the members-per-day summary, stage moves from the stage
moves summary, stages now live from the segments' bitmap index."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from insights.cockpit import definitions as d
from insights.cockpit.base import Chart, Cockpit, Figure, Period, Row, SectionData, Table, register_section
from insights.models import DailyMembers, MemberDimension, StageMove, SummaryRun
from members.models import Source, Stage
from members.segments.audience import Audience
from scrm.models import Store


def as_of(name: str):
    run = SummaryRun.objects.filter(name=name).first()
    return run.refreshed_at if run else None


def _rows(cockpit: Cockpit, model):
    rows = model.objects.visible_to(cockpit.actor)
    return rows.filter(store_id=cockpit.store_id) if cockpit.store_id is not None else rows


def _joined_per(cockpit: Cockpit, dimension: str, by: str, period: Period) -> dict:
    rows = (_rows(cockpit, DailyMembers).filter(dimension=dimension, day__range=(period.start, period.end))
            .values_list(by).annotate(n=Sum("members")).order_by())
    return dict(rows)


def _pools(cockpit: Cockpit, period: Period) -> dict:
    """{home store: (new, new before, pool, pool before, every member now)} of the period and the one before: the
    store's total less those who joined after each end, so only the days from the period before on
    are summed (the whole history only for a summary built before the totals were kept)."""
    previous = period.previous
    rows = _rows(cockpit, DailyMembers)
    totals = dict(rows.filter(dimension=MemberDimension.TOTAL).values_list("store").annotate(n=Sum("members"))
                  .order_by())
    source = rows.filter(dimension=MemberDimension.SOURCE)
    if not totals and not DailyMembers.objects.filter(dimension=MemberDimension.TOTAL).exists():
        totals = dict(source.values_list("store").annotate(n=Sum("members")).order_by())
    recent = {store: rest for store, *rest in source.filter(day__gte=previous.start).values_list("store").annotate(
        new=Sum("members", filter=Q(day__range=(period.start, period.end)), default=0),
        before=Sum("members", filter=Q(day__range=(previous.start, previous.end)), default=0),
        after=Sum("members", filter=Q(day__gt=period.end), default=0),
        after_before=Sum("members", filter=Q(day__gt=previous.end), default=0)).order_by()}
    out = {}
    for store in set(totals) | set(recent):
        total = totals.get(store, 0)
        new, before, after, after_before = recent.get(store, (0, 0, 0, 0))
        out[store] = (new, before, total - after, total - after_before, total)
    return out


def _pool(cockpit: Cockpit, period: Period, fresh, pools: dict) -> list[Figure]:
    previous = period.previous
    new, new_before, pool, pool_before = (sum(v[i] for v in pools.values()) for i in range(4))
    return [
        Figure("pool", _("Members in the pool"), pool, pool_before, as_of=fresh,
               definition=cockpit.where(d.joined_by(period.end)),
               previous_definition=cockpit.where(d.joined_by(previous.end)),
               note=_("Live members who joined by the period's last day.")),
        Figure("new_members", _("New members"), new, new_before, as_of=fresh,
               definition=cockpit.where(d.joined(period)), previous_definition=cockpit.where(d.joined(previous))),
    ]


def _trend(cockpit: Cockpit, period: Period, fresh) -> Chart:
    buckets = period.buckets()
    step = buckets[0].days if buckets else 1
    # One pass over the summary's (day, source) sums, each added to its bucket: a year's 365 days by
    # seven sources is 2,555 rows, not 2,555 rows per point.
    per_bucket = defaultdict(int)
    for day, key, n in (_rows(cockpit, DailyMembers)
                        .filter(dimension=MemberDimension.SOURCE, day__range=(period.start, period.end))
                        .values_list("day", "key").annotate(n=Sum("members")).order_by()):
        i = (day - period.start).days // step
        per_bucket[(i, key)] += n
        per_bucket[(i, None)] += n
    labels = dict(Source.choices)
    sources = sorted({key for _i, key in per_bucket if key is not None},
                     key=lambda k: list(labels).index(k) if k in labels else 99)

    def points(key):
        out = []
        for i, b in enumerate(buckets):
            leaves = [d.joined(b)] + ([d.source(key)] if key is not None else [])
            out.append(Figure(f"trend_{key or 'all'}_{b.start}", b.start.isoformat(), per_bucket.get((i, key), 0),
                              as_of=fresh, definition=cockpit.where(*leaves)))
        return out

    series = [(_("All sources"), points(None))] + [(str(labels.get(k, k)), points(k)) for k in sources]
    title = _("New members per day") if buckets and buckets[0].days == 1 else _("New members per week")
    return Chart("new_members_trend", title, "line", [b.start.isoformat() for b in buckets], series,
                 description=_("New members per day or week, in all and by source; click a point for its members."))


def _breakdown(cockpit: Cockpit, period: Period, fresh, *, dimension, key_label, leaf, table_key, title, header):
    now = _joined_per(cockpit, dimension, "key", period)
    before = _joined_per(cockpit, dimension, "key", period.previous)
    keys = sorted(set(now) | set(before), key=lambda k: (-(now.get(k) or 0), k))
    rows = [Row(k, key_label(k), [Figure(f"{table_key}_{k}", key_label(k), now.get(k, 0), before.get(k, 0),
                                         as_of=fresh, definition=cockpit.where(d.joined(period), leaf(k)),
                                         previous_definition=cockpit.where(d.joined(period.previous), leaf(k)))])
            for k in keys]
    return Table(table_key, title, [_("New members")], rows, label_header=header)


def _channel_code_names(states) -> dict:
    from wecom.models import ChannelCode

    return dict(ChannelCode.objects.filter(state__in=list(states)).values_list("state", "name"))


def _by_store(cockpit: Cockpit, period: Period, fresh, pools: dict) -> Table:
    previous = period.previous
    rows = pools
    stores = {s.pk: s for s in Store.objects.visible_to(cockpit.actor).filter(pk__in=[k for k in rows if k])}
    out = []
    order = sorted(rows.items(), key=lambda kv: (-kv[1][0], kv[0] or 0))
    for store_id, (new, before, pool, pool_before, _total) in order:
        store = stores.get(store_id)
        label = f"{store.code} {store.name}" if store else _("No home store")
        leaf = d.home_store(store_id)
        out.append(Row(str(store_id or 0), label, [
            Figure(f"store_new_{store_id or 0}", label, new, before, as_of=fresh,
                   definition=cockpit.where(d.joined(period), leaf),
                   previous_definition=cockpit.where(d.joined(previous), leaf)),
            Figure(f"store_pool_{store_id or 0}", label, pool, pool_before, as_of=fresh,
                   definition=cockpit.where(d.joined_by(period.end), leaf),
                   previous_definition=cockpit.where(d.joined_by(previous.end), leaf)),
        ]))
    return Table("members_by_store", _("Members by store"), [_("New members"), _("Members in the pool")], out,
                 label_header=_("Store"))


def pool_section(cockpit: Cockpit) -> SectionData:
    period, fresh = cockpit.period, as_of("members")
    pools = _pools(cockpit, period)
    states = _rows(cockpit, DailyMembers).filter(dimension=MemberDimension.STATE).values_list("key", flat=True)
    names = _channel_code_names(set(states.filter(day__gte=period.previous.start, day__lte=period.end)))
    source_labels = dict(Source.choices)
    tables = [
        _breakdown(cockpit, period, fresh, dimension=MemberDimension.SOURCE,
                   key_label=lambda k: str(source_labels.get(k, k)), leaf=d.source, table_key="members_by_source",
                   title=_("New members by source"), header=_("Source")),
        _breakdown(cockpit, period, fresh, dimension=MemberDimension.STATE, key_label=lambda k: names.get(k, k),
                   leaf=d.joined_via, table_key="members_by_channel_code",
                   title=_("New members by channel code"), header=_("Channel code")),
        _by_store(cockpit, period, fresh, pools),
    ]
    section = SectionData("pool", _("Member pool"), figures=_pool(cockpit, period, fresh, pools), tables=tables,
                          charts=[_trend(cockpit, period, fresh)])
    if fresh is None:
        section.notes.append(_("The members summary has not been built yet: it is at the next scheduled refresh."))
    return section


def funnel_section(cockpit: Cockpit) -> SectionData:
    from insights.cockpit.activity import MOVED
    from insights.cockpit.engagement import older, stored_activity

    period, previous, fresh = cockpit.period, cockpit.period.previous, as_of("stage_moves")
    kinds = [MOVED + key for key in Stage.values]

    def moves(p: Period) -> tuple[dict, object]:
        stored = stored_activity(cockpit, kinds, [(p.start, p.end)])
        if stored is not None:  # distinct members per stage of a kept period, from its summary
            return {kind[len(MOVED):]: row["members"] for (kind, _first, _last), row in stored[0].items()}, stored[1]
        rows = _rows(cockpit, StageMove).filter(day__range=(p.start, p.end))
        return dict(rows.values_list("stage").annotate(n=Count("member", distinct=True)).order_by()), fresh

    (moved_now, now_at), (moved_before, before_at) = moves(period), moves(previous)
    fresh = older(now_at, before_at)
    now_figures, moved_figures = [], []
    for key, label in Stage.choices:
        audience = Audience(cockpit.where(d.stage(key)), actor=cockpit.actor)
        now_figures.append(Figure(f"stage_{key}", str(label), audience.count, None,
                                  definition=cockpit.where(d.stage(key)),
                                  note=_("Members at this stage now (no history of past stages is kept).")))
        moved_figures.append(Figure(f"moved_{key}", str(label), moved_now.get(key, 0), moved_before.get(key, 0),
                                    as_of=fresh, definition=cockpit.where(d.moved_into(period, key)),
                                    previous_definition=cockpit.where(d.moved_into(previous, key))))
    table = Table("funnel", _("The 5A funnel"), [_("Members now"), _("Moved in during the period")],
                  [Row(f.key, f.label, [f, m]) for f, m in zip(now_figures, moved_figures, strict=True)],
                  label_header=_("Stage"))
    categories = [str(label) for _key, label in Stage.choices]
    charts = [
        Chart("funnel_now", _("Members per 5A stage now"), "bar", categories, [(_("Members now"), now_figures)]),
        Chart("funnel_moves", _("Moved into each stage in the period"), "bar", categories,
              [(_("Moved in"), moved_figures)]),
    ]
    return SectionData("funnel", _("5A funnel"), tables=[table], charts=charts,
                       notes=[_("A move is a profile change of the member's stage on their timeline.")])


def register() -> None:
    register_section("pool", gettext_lazy("Member pool"), build=pool_section, order=10)
    register_section("funnel", gettext_lazy("5A funnel"), build=funnel_section, order=20)
