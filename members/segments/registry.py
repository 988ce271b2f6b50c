"""The filter registry: every condition a segment can use is a filter registered here.

Members registers its own filters (tags, store, owner, stage, gender, source, joined date, birthday
month, custom attributes) in members/segments/filters.py. Apps that build on members (orders and
tiers, communities, KOC) register theirs from their own AppConfig.ready(), so members never imports
them:

    from members.segments.registry import Bits, Value, register_filter

    register_filter(
        "tier", _("Membership tier"),
        value_schema={"in": Value("integer", many=True)},
        compile_sql=lambda leaf, m: (f"{m}.id IN (SELECT member_id FROM loyalty_tier WHERE level = ANY(%s))",
                                     [leaf.value]),
        bitmap=lambda leaf: Bits("tier", leaf.value),   # only if the app keeps a "tier" dimension current
    )

A filter compiles a leaf to a SQL boolean over the member table alias `m` (always); a filter whose
members are kept in the bitmap index also turns a leaf into `Bits`, and segments made only of such
leaves are counted from bitmaps. `describe(actor)` lists the filters for a segment builder UI, with
the argument choices that actor may use (`describe_args(actor)`: e.g. no sensitive attributes for
store staff).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

OPERATOR_LABELS = {
    "any": _("has any of"),
    "all": _("has all of"),
    "none": _("has none of"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "eq": _("is"),
    "ne": _("is not"),
    "gt": _("is more than"),
    "gte": _("is at least"),
    "lt": _("is less than"),
    "lte": _("is at most"),
    "between": _("is between"),
    "after": _("on or after"),
    "before": _("before"),
    "within_days": _("in the last N days"),
    "contains": _("contains"),
    "is_null": _("is empty"),
    "is_set": _("is filled in"),
}

VALUE_TYPES = ("integer", "number", "string", "date", "month", "boolean", "any")


@dataclass(frozen=True)
class Value:
    """What an operator takes. `many`: a non-empty list of such values (or exactly `length` of them);
    `choices`: the allowed values with their labels (for validation and for the UI); `options`: a
    callable returning such pairs read from the database when the filters are described (the tiers of
    the ladder), offered by the UI only: the filter's `validate` checks the values."""

    type: str
    many: bool = False
    length: int | None = None
    choices: Sequence[tuple[Any, Any]] | None = None
    minimum: float | None = None
    maximum: float | None = None
    options: Callable[[], Sequence[tuple[Any, Any]]] | None = None

    def describe(self, options_read: dict | None = None) -> dict:
        """`options_read`: options already read in this description, by callable, so values that
        share one (a filter's `in`, `not_in` and `gte`) read the database once."""
        out: dict[str, Any] = {"type": self.type, "many": self.many}
        if self.length is not None:
            out["length"] = self.length
        if self.choices is not None:
            out["choices"] = [{"value": v, "label": str(label)} for v, label in self.choices]
        elif self.options is not None:
            memo = options_read if options_read is not None else {}
            if self.options not in memo:
                memo[self.options] = list(self.options())
            out["choices"] = [{"value": v, "label": str(label)} for v, label in memo[self.options]]
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


@dataclass(frozen=True)
class Leaf:
    """One condition of a definition, after validation: {"field": key, "op": op, "value": value}
    (plus `arg`, e.g. the attribute code of an attribute condition). `path` names it in errors."""

    field: str
    op: str
    value: Any
    arg: str | None = None
    path: str = "$"


@dataclass(frozen=True)
class Bits:
    """A leaf in bitmap terms: the members of `keys` in `dimension` of the bitmap index; `match`
    "any" (union) or "all" (intersection); `negate` for the complement. `key_sql` turns the `keys`
    parameter into a bigint[] (e.g. hashing stage names as the index does)."""

    dimension: str
    keys: tuple
    match: str = "any"
    negate: bool = False
    key_sql: str = "%s::bigint[]"


class InvalidValue(ValueError):
    """Raised by a filter's `validate` hook; `subpath` is appended to the leaf's path (".value[2]")."""

    def __init__(self, message, subpath: str = ".value"):
        super().__init__(str(message))
        self.message = message
        self.subpath = subpath


CompileSql = Callable[[Leaf, str], tuple[str, list]]


@dataclass
class Filter:
    key: str
    label: Any
    value_schema: dict[str, Value]
    compile_sql: CompileSql
    bitmap: Callable[[Leaf], Bits | None] | None = None
    validate: Callable[[Leaf], None] | None = None
    arg: Any = None  # label of the extra argument (e.g. _("Attribute")), or None
    describe_args: Callable[[Any], list[dict]] | None = None  # choices for `arg` an actor may use (None: all)
    group: Any = ""
    order: int = 100
    extra: dict = field(default_factory=dict)

    def describe(self, actor=None, options_read: dict | None = None) -> dict:
        options_read = {} if options_read is None else options_read
        out = {
            "key": self.key,
            "label": str(self.label),
            "group": str(self.group),
            "bitmap": self.bitmap is not None,
            "operators": [
                {"op": op, "label": str(OPERATOR_LABELS.get(op, op)), "value": value.describe(options_read)}
                for op, value in self.value_schema.items()
            ],
        }
        if self.arg is not None:
            out["arg"] = {"label": str(self.arg), "choices": self.describe_args(actor) if self.describe_args else []}
        return out


_FILTERS: dict[str, Filter] = {}


def register_filter(
    key: str,
    label,
    *,
    compile_sql: CompileSql,
    value_schema: dict[str, Value],
    bitmap: Callable[[Leaf], Bits | None] | None = None,
    validate: Callable[[Leaf], None] | None = None,
    arg=None,
    describe_args: Callable[[Any], list[dict]] | None = None,
    group="",
    order: int = 100,
) -> Filter:
    """Declare a filter. `compile_sql(leaf, m)` returns (sql, params): a boolean over the member
    table alias `m` (NULL is read as false). `bitmap(leaf)` returns Bits, or None when that leaf
    cannot be answered from the index. `validate(leaf)` raises InvalidValue for values the schema
    cannot express (unknown ids...). `describe_args(actor)` lists the choices of `arg` the actor may
    use (actor None: every choice). Registering a key twice replaces the filter (code reloads)."""
    if not value_schema:
        raise ValueError(f"filter {key!r}: value_schema needs at least one operator")
    for op, value in value_schema.items():
        if value.type not in VALUE_TYPES:
            raise ValueError(f"filter {key!r}, operator {op!r}: unknown value type {value.type!r}")
    _FILTERS[key] = Filter(
        key=key, label=label, value_schema=dict(value_schema), compile_sql=compile_sql, bitmap=bitmap,
        validate=validate, arg=arg, describe_args=describe_args, group=group, order=order,
    )
    return _FILTERS[key]


def unregister_filter(key: str) -> None:
    _FILTERS.pop(key, None)


def get_filter(key: str) -> Filter | None:
    return _FILTERS.get(key)


def filters() -> list[Filter]:
    return sorted(_FILTERS.values(), key=lambda f: (f.order, f.key))


def describe(actor=None) -> list[dict]:
    """Every filter with its label, operators and value types, in display order: what a segment
    builder renders, with the argument choices `actor` may use (None: all of them). Values are
    JSON-ready ("date" values are "YYYY-MM-DD" strings)."""
    options_read: dict = {}
    return [f.describe(actor, options_read) for f in filters()]


# --- value checks shared by validation --------------------------------------------------------------

def check_scalar(value_type: str, value) -> str | None:
    """None when `value` is a valid `value_type`, else the reason (untranslated fragments are avoided:
    the caller wraps it)."""
    if value_type == "any":
        return None if value is not None else str(_("a value is required"))
    if value_type == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else str(_("must be an integer"))
    if value_type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else str(_("must be a number"))
    if value_type == "boolean":
        return None if isinstance(value, bool) else str(_("must be true or false"))
    if value_type == "string":
        if not isinstance(value, str) or not value:
            return str(_("must be a non-empty string"))
        return None if len(value) <= 200 else str(_("must be at most 200 characters"))
    if value_type == "date":
        return None if _parses(value, 10, "") else str(_("must be a date written YYYY-MM-DD"))
    if value_type == "month":
        return None if _parses(value, 7, "-01") else str(_("must be a month written YYYY-MM"))
    return str(_("has an unknown type"))


def _parses(value, length: int, suffix: str) -> bool:
    if not isinstance(value, str) or len(value) != length:
        return False
    try:
        datetime.date.fromisoformat(value + suffix)
    except ValueError:
        return False
    return True
