"""The member's timeline: everything that happened to one member, from every app, newest first.

Each app registers the kinds of entry it knows from its plugins.py; a source reads its own tables
for one member, newest first, within a window (before a cursor, at most `limit` rows: one indexed
query), and yields entries that carry a message code and its parameters. Entries are rendered when
read, so the history follows the reader's language, never the writer's.

    from members import timeline
    timeline.register("orders", orders_source, label=_("Orders"), messages={"placed": _("Order %(number)s")})

A message is a (lazy) translation filled with `%` from the entry's params, or a function of the
params for wording that needs more than one pattern.
A page merges the sources' windows: each source gives at most `limit + 1` entries, so a page costs
one bounded query per source whatever the member's history holds.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from members.services.attributes import sees_sensitive_attributes
from scrm.actors import stored_actor_display
from scrm.errors import InvalidInput

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last entry's time, source and row id (the order is newest first,
    then source name, then id, all descending)."""

    at: datetime.datetime
    source: str
    pk: int

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), self.source, self.pk], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            at, source, pk = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
            moment = parse_datetime(at) if isinstance(at, str) else None
            if moment is None or moment.tzinfo is None or not isinstance(source, str) or type(pk) is not int:
                raise ValueError(text)
        except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
            raise InvalidInput(details={"cursor": [_("Not a cursor this list gave out.")]}) from None
        return cls(at=moment, source=source, pk=pk)


@dataclass
class Entry:
    """One thing that happened. `code` names a message of its source; `params` fill it (values may
    be lazy translations, rendered with the message). `hidden` lists params the reader may not see."""

    at: datetime.datetime
    pk: int
    code: str
    params: Mapping = field(default_factory=dict)
    actor_user: object | None = None
    actor_label: str = ""
    link: str = ""
    kind: str = ""
    source: str = ""
    messages: Mapping = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        message = self.messages.get(self.code)
        if message is None:
            return self.code
        params = {key: _render(value) for key, value in self.params.items()}
        if callable(message) and not isinstance(message, Promise):  # a renderer of its own
            return str(message(self.params))
        try:
            return str(message) % params
        except (KeyError, TypeError, ValueError):  # a message whose parameters changed since the row was written
            return str(message)

    @property
    def actor(self) -> str:
        return stored_actor_display(self.actor_user, self.actor_label)

    @property
    def kind_label(self) -> str:
        kind = _KINDS.get(self.kind)
        return str(kind.label) if kind else self.kind

    @property
    def cursor(self) -> Cursor:
        return Cursor(at=self.at, source=self.source, pk=self.pk)


def parse_moment(value) -> datetime.datetime | None:
    """A moment stored as ISO text in a JSON column (None when absent or unreadable)."""
    return parse_datetime(value) if isinstance(value, str) else None


def _render(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_render(v)) for v in value)
    if isinstance(value, datetime.datetime):
        from django.utils import formats, timezone

        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    return value if isinstance(value, (int, float)) else str(value)


def param_value(value):
    """A parameter as data (for the API): lists stay lists, moments ISO text, translations text."""
    if isinstance(value, (list, tuple)):
        return [param_value(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


@dataclass
class Window:
    """What one page asks of each source: entries of `member` older than `before`, at most `limit`,
    for `reader` (sources scope rows of other stores and hide what the reader may not see)."""

    member: object
    reader: object
    limit: int
    source: str
    before: Cursor | None = None

    @cached_property
    def sees_sensitive(self) -> bool:
        return sees_sensitive_attributes(self.reader)

    def keyset(self, at: str = "created_at", pk: str = "pk") -> Q:
        """The condition 'older than the cursor' on a queryset's time and id fields."""
        c = self.before
        if c is None:
            return Q()
        if self.source < c.source:
            return Q(**{f"{at}__lte": c.at})
        if self.source == c.source:
            return Q(**{f"{at}__lt": c.at}) | Q(**{at: c.at, f"{pk}__lt": c.pk})
        return Q(**{f"{at}__lt": c.at})

    def page(self, queryset: QuerySet, at: str = "created_at", pk: str = "pk") -> QuerySet:
        """`queryset` newest first, after the cursor, at most `limit` rows."""
        return queryset.filter(self.keyset(at, pk)).order_by(f"-{at}", f"-{pk}")[: self.limit]

    def keyset_sql(self, at: str, pk: str) -> tuple[str, list]:
        """The same condition for a raw SQL source: (sql, params), 'TRUE' with no cursor."""
        c = self.before
        if c is None:
            return "TRUE", []
        if self.source < c.source:
            return f"{at} <= %s", [c.at]
        if self.source == c.source:
            return f"({at}, {pk}) < (%s, %s)", [c.at, c.pk]
        return f"{at} < %s", [c.at]


Source = Callable[[Window], Iterable[Entry]]


@dataclass(frozen=True)
class Kind:
    code: str
    label: object
    order: int


@dataclass(frozen=True)
class _Registration:
    name: str
    kind: str
    source: Source
    messages: Mapping


_KINDS: dict[str, Kind] = {}
_SOURCES: dict[str, _Registration] = {}


def register(
    kind: str, source: Source, *, label=None, messages: Mapping, name: str | None = None, order: int = 50
) -> None:
    """Add a source of entries of `kind` (the reader's filter). A kind may have several sources
    (each with its own `name`); the first registration of a kind gives its `label`."""
    name = name or kind
    if name in _SOURCES and _SOURCES[name].source is not source:
        raise ValueError(f"timeline source {name!r} is already registered")
    if kind not in _KINDS:
        if label is None:
            raise ValueError(f"timeline kind {kind!r} needs a label")
        _KINDS[kind] = Kind(code=kind, label=label, order=order)
    _SOURCES[name] = _Registration(name=name, kind=kind, source=source, messages=messages)


def kinds() -> list[Kind]:
    """The kinds of entry, in the order a filter offers them."""
    return sorted(_KINDS.values(), key=lambda k: (k.order, k.code))


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_cursor: str | None
    kinds: tuple[str, ...] = ()  # the kinds asked for (empty: every kind)

    @property
    def all_kinds(self) -> list[Kind]:
        return kinds()

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def clean_kinds(raw: Iterable[str]) -> list[str]:
    chosen = [k for k in dict.fromkeys(raw) if k]
    unknown = [k for k in chosen if k not in _KINDS]
    if unknown:
        raise InvalidInput(
            details={
                "kind": [
                    _("Unknown kind %(kind)s; one of: %(list)s.") % {"kind": k, "list": ", ".join(sorted(_KINDS))}
                    for k in unknown
                ]
            }
        )
    return chosen


def clean_limit(raw, default: int = PAGE_SIZE) -> int:
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(details={"limit": [_("A whole number from 1 to %(max)s.") % {"max": MAX_PAGE_SIZE}]})
    return limit


def page(member, reader, *, kinds: Iterable[str] = (), cursor: str | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of `member`'s timeline for `reader`, newest first. The caller has reached `member`
    through scrm.scoping; `kinds` narrows it (empty: every kind); `cursor` continues a page."""
    chosen = set(clean_kinds(kinds))
    before = Cursor.decode(cursor) if cursor else None
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    found: list[Entry] = []
    for registration in _SOURCES.values():
        if chosen and registration.kind not in chosen:
            continue
        window = Window(member=member, reader=reader, limit=limit + 1, source=registration.name, before=before)
        for entry in registration.source(window):
            entry.kind, entry.source, entry.messages = registration.kind, registration.name, registration.messages
            found.append(entry)
    found.sort(key=lambda e: (e.at, e.source, e.pk), reverse=True)
    entries = found[:limit]
    more = len(found) > limit
    return Page(
        entries=entries,
        next_cursor=entries[-1].cursor.encode() if more and entries else None,
        kinds=tuple(sorted(chosen)),
    )


def recent(member, reader, *, limit: int = 5) -> list[Entry]:
    """The newest few entries, for the phone's member page."""
    return page(member, reader, limit=limit).entries
