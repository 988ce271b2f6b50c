"""What every cockpit section is made of: the period asked for, the figures (value, previous value,
change, age, drill-down definition), tables and charts of figures, and the registry sections plug
into (sections of other parts of the product register here too, from insights)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.errors import InvalidInput, NotInScope
from scrm.scoping import Access, access_for

PRESETS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366  # a custom period is at most three years long
OLDEST_DAYS = 10 * 366  # and starts at most ten years back


@dataclass(frozen=True)
class Period:
    """Days of the brand's calendar, both ends included."""

    start: datetime.date
    end: datetime.date
    preset: int | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        """The period of the same length just before."""
        return Period(self.start - datetime.timedelta(days=self.days), self.start - datetime.timedelta(days=1))

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """[midnight of the first day, midnight after the last) in the brand's time zone."""
        def midnight(day):
            return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))

        return midnight(self.start), midnight(self.end + datetime.timedelta(days=1))

    def buckets(self) -> list[Period]:
        """Days for periods up to 92 days, weeks from the first day otherwise (the last may be short)."""
        step = 1 if self.days <= 92 else 7
        out, day = [], self.start
        while day <= self.end:
            last = min(self.end, day + datetime.timedelta(days=step - 1))
            out.append(Period(day, last))
            day = last + datetime.timedelta(days=1)
        return out

    def as_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.days, "preset": self.preset}


def preset_period(days: int, *, today: datetime.date | None = None) -> Period:
    today = today or timezone.localdate()
    return Period(today - datetime.timedelta(days=days - 1), today, preset=days)


def _date(raw, name: str, errors: dict) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(raw))
    except ValueError:
        errors[name] = [_("Write the date as YYYY-MM-DD.")]
        return None


def parse_period(params, *, today: datetime.date | None = None) -> Period:
    """The period of a request: `days` one of the presets (30 by default), or `start` and `end`
    (YYYY-MM-DD, both included, ending today at the latest, at most three years long)."""
    today = today or timezone.localdate()
    start_raw, end_raw = params.get("start") or "", params.get("end") or ""
    if not start_raw and not end_raw:
        raw = params.get("days")
        if raw in (None, ""):
            return preset_period(DEFAULT_DAYS, today=today)
        if str(raw) not in {str(d) for d in PRESETS}:
            message = _("The period is one of %(periods)s days, or a start and an end date.") % {
                "periods": ", ".join(str(d) for d in PRESETS)}
            raise InvalidInput(details={"days": [message]})
        return preset_period(int(raw), today=today)
    errors: dict = {}
    if not start_raw:
        errors["start"] = [_("Give the first day of the period too.")]
    if not end_raw:
        errors["end"] = [_("Give the last day of the period too.")]
    start = _date(start_raw, "start", errors) if start_raw else None
    end = _date(end_raw, "end", errors) if end_raw else None
    if start and end:
        if end > today:
            errors["end"] = [_("The period ends today at the latest.")]
        elif start > end:
            errors["start"] = [_("The first day comes after the last.")]
        elif (end - start).days + 1 > MAX_DAYS:
            errors["start"] = [_("A period is at most three years long.")]
        elif (today - start).days > OLDEST_DAYS:
            errors["start"] = [_("A period starts at most ten years back.")]
    if errors:
        raise InvalidInput(details=errors)
    preset = next((d for d in PRESETS if preset_period(d, today=today) == Period(start, end, d)), None)
    return Period(start, end, preset=preset)


def member_list_url(definition: dict) -> str:
    """The member list narrowed to `definition` (a flat {"all": [conditions]}), in the audience
    builder's own fields, so the list counts it, and can save it as a segment or send to it."""
    params = [("r.match", "all")]
    for i, leaf in enumerate(definition.get("all", [])):
        path = f"r.{i}"
        params += [(f"{path}.filter", leaf["field"]), (f"{path}.op", leaf["op"])]
        values = leaf["value"] if isinstance(leaf["value"], list) else [leaf["value"]]
        params += [(f"{path}.value", "true" if v is True else "false" if v is False else str(v)) for v in values]
    return f"{reverse('member-list')}?{urlencode(params)}"


@dataclass
class Figure:
    """One number of the cockpit. `kind`: "members" (a count of members: `definition` is exactly
    them), "ratio" (0..1; `definition` is its numerator's members), "money" (reporting currency;
    `definition` is the members it is computed over), or "count" (messages, orders, posts...: with a
    `definition`, the members they belong to, each listed once; without, they are not members').
    `members`: how many members `definition` counts (what its member list shows; None: too long to
    count, the list counts them). `previous_definition`: the same members of the period before.
    `as_of`: when the summary it was read from was built (None: counted live now)."""

    key: str
    label: str
    value: Any
    previous: Any = None
    kind: str = "members"
    definition: dict | None = None
    previous_definition: dict | None = None
    members: int | None = None
    as_of: datetime.datetime | None = None
    note: str = ""

    def __post_init__(self):
        if self.members is None and self.kind == "members" and self.definition is not None:
            self.members = self.value

    @property
    def change(self):
        if self.value is None or self.previous is None:
            return None
        if self.kind == "ratio":
            return round(self.value - self.previous, 4)
        return self.value - self.previous

    @property
    def change_ratio(self) -> float | None:
        """The change against the previous value (not for ratios, whose change is in points)."""
        if self.kind == "ratio" or self.change is None or not self.previous:
            return None
        return round(float(self.change) / float(self.previous), 4)

    @property
    def url(self) -> str | None:
        return member_list_url(self.definition) if self.definition is not None else None

    @property
    def previous_url(self) -> str | None:
        return member_list_url(self.previous_definition) if self.previous_definition is not None else None

    def as_dict(self) -> dict:
        def plain(v):
            return str(v) if isinstance(v, Decimal) else v

        return {
            "key": self.key, "label": self.label, "kind": self.kind, "value": plain(self.value),
            "previous": plain(self.previous), "change": plain(self.change), "change_ratio": self.change_ratio,
            "members": self.members, "as_of": self.as_of.isoformat() if self.as_of else None,
            "live": self.as_of is None,
            "note": self.note, "definition": self.definition, "previous_definition": self.previous_definition,
        }


def ratio(part, whole) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


@dataclass
class Row:
    key: str
    label: str
    cells: list[Figure]


@dataclass
class Table:
    """Rows of figures under named columns (one figure per column in each row)."""

    key: str
    title: str
    columns: list[str]
    rows: list[Row]
    label_header: str = ""

    def as_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "columns": self.columns, "label": self.label_header,
                "rows": [{"key": r.key, "label": r.label, "figures": [f.as_dict() for f in r.cells]}
                         for r in self.rows]}


@dataclass
class Chart:
    """A chart over `categories`: `kind` "line" or "bar"; each series a list of figures, one per
    category, so a click on a point opens the members that point counts."""

    key: str
    title: str
    kind: str
    categories: list[str]
    series: list[tuple[str, list[Figure]]]
    description: str = ""

    def as_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "kind": self.kind, "categories": self.categories,
                "series": [{"name": name, "data": [{"value": _number(f), "url": f.url} for f in points]}
                           for name, points in self.series]}


def _number(figure: Figure):
    """A point's value as the chart draws it: ratios in per cent."""
    value = figure.value
    if figure.kind == "ratio" and value is not None:
        return round(value * 100, 2)
    return float(value) if isinstance(value, Decimal) else value


@dataclass
class SectionData:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def all_figures(self):
        """Every figure of the section: cards, table cells and chart points."""
        yield from self.figures
        for table in self.tables:
            for row in table.rows:
                yield from row.cells
        for chart in self.charts:
            for _name, points in chart.series:
                yield from points

    def as_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "figures": [f.as_dict() for f in self.figures],
                "tables": [t.as_dict() for t in self.tables], "charts": [c.as_dict() for c in self.charts],
                "notes": self.notes}


@dataclass
class Cockpit:
    """One reading of the cockpit: who asks, the period, and the store it is cut to (`store_id`
    None: the whole brand, for operators)."""

    actor: Any
    period: Period
    access: Access
    store: Any = None
    now: datetime.datetime = field(default_factory=timezone.now)

    @property
    def store_id(self) -> int | None:
        return self.access.store_id

    @property
    def whole_brand(self) -> bool:
        return self.access.all_stores

    def where(self, *leaves) -> dict:
        """A definition of these conditions, cut to the store an operator chose (a store role's
        member list is cut to their store already)."""
        conditions = list(leaves)
        if self.store is not None and access_for(self.actor).all_stores:
            conditions.append({"field": "home_store", "op": "in", "value": [self.store.pk]})
        return {"all": conditions}


def open_cockpit(actor, *, period: Period, store_id=None) -> Cockpit:
    """The cockpit as `actor` may read it: operators (and brand-wide keys) the brand or one store,
    store roles their store; another store is a 404."""
    from scrm.models import Store

    access = access_for(actor)
    store = None
    if store_id not in (None, ""):
        try:
            store_pk = int(store_id)
        except (TypeError, ValueError):
            raise InvalidInput(details={"store": [_("Name the store by its id.")]}) from None
        access = access.narrowed_to(store_pk)
        store = Store.objects.filter(pk=store_pk).first() if access.reaches_any else None
        if store is None:
            raise NotInScope()
    elif not access.all_stores and access.store_id is not None:
        store = Store.objects.filter(pk=access.store_id).first()
    return Cockpit(actor=actor, period=period, access=access, store=store)


@dataclass(frozen=True)
class Section:
    key: str
    title: Any
    build: Callable[[Cockpit], SectionData]
    order: int = 100
    template: str = "insights/cockpit/_section.html"
    page: str = "cockpit"


PAGES = ("cockpit", "store")  # the cockpit, and one store's page
_SECTIONS: dict[str, Section] = {}


def register_section(key: str, title, *, build: Callable[[Cockpit], SectionData], order: int = 100,
                     template: str = "insights/cockpit/_section.html", page: str = "cockpit") -> Section:
    """Add a section to the cockpit (or, `page="store"`, to the store page): `build(cockpit)`
    returns its figures, tables and charts. Registering a key again replaces it."""
    _SECTIONS[key] = Section(key=key, title=title, build=build, order=order, template=template, page=page)
    return _SECTIONS[key]


def sections(page: str = "cockpit") -> list[Section]:
    return sorted((s for s in _SECTIONS.values() if s.page == page), key=lambda s: (s.order, s.key))


def read(cockpit: Cockpit, *, only: str | None = None, page: str = "cockpit") -> list[tuple[Section, SectionData]]:
    """Every section's data of `page` for this reading (or the one section `only`)."""
    return [(s, s.build(cockpit)) for s in sections(page) if only is None or s.key == only]
