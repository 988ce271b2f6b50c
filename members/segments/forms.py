"""Dashboard forms of segments: the audience builder on the member list, and saving its audience.

The builder is a tree of groups (match "all" or "any", optionally NOT) and conditions (a filter of
the segments registry, an operator, a value, optionally NOT). It travels as flat fields named by
each node's path, so plain GET/POST and htmx carry it without any script:

    r.match=all  r.0.filter=tags  r.0.op=any  r.0.value=12  r.0.value=15
    r.1.match=any  r.1.not=on  r.1.0.filter=attribute  r.1.0.arg=milk_brand  r.1.0.op=eq  r.1.0.value=A2

`AudienceForm.definition()` writes exactly the segment definition format the API takes
(members/segments/definition.py) and `AudienceForm.from_definition()` reads one back, so a saved
segment opens in the builder and saves again unchanged. Every filter of the registry is offered, so
filters other apps register appear here without members knowing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import groupby

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import AttributeDefinition, AttributeType, Tag
from members.segments import queries as segment_queries
from members.segments.audience import Audience
from members.segments.models import Segment
from members.services.attributes import sees_sensitive_attributes
from scrm.models import STORE_ROLES, Store, User
from scrm.scoping import scope

ROOT = "r"
MAX_NODES = 60  # what a person builds by hand; the API takes larger definitions
_PATH = re.compile(r"^r(\.\d{1,3}){0,8}$")
_SPLIT = re.compile(r"\s*[,，;；\n]\s*")
_ATTRIBUTE_SCALAR = {
    AttributeType.TEXT: "string", AttributeType.NUMBER: "number", AttributeType.DATE: "date",
    AttributeType.MONTH: "month", AttributeType.BOOLEAN: "boolean", AttributeType.CHOICE: "string",
    AttributeType.MULTI_CHOICE: "string",
}
_MANY_OPS = {"in", "not_in", "any", "all", "none", "between"}


@dataclass
class Widget:
    """How a condition's value is entered: `kind` is select, multi, bool, text, list (comma-separated),
    number, date, month or pair (two inputs); `choices` [(value, label)] grouped optionally."""

    kind: str
    type: str = "string"
    choices: list = field(default_factory=list)  # [(value, label)] or [(group, [(value, label)])]
    grouped: bool = False


@dataclass
class Node:
    path: str
    kind: str  # "group" or "condition"
    negate: bool = False
    match: str = "all"
    children: list[Node] = field(default_factory=list)
    filter: str = ""
    op: str = ""
    arg: str = ""
    values: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # The user has tried to use this condition (shown the members, saved, exported): only then are
    # its errors shown, so a row being filled in is not red before it is finished.
    tried: bool = False
    # filled in by AudienceForm.decorate() for rendering
    operators: list = field(default_factory=list)
    widget: Widget | None = None
    arg_choices: list = field(default_factory=list)
    arg_label: str = ""

    @property
    def is_group(self) -> bool:
        return self.kind == "group"

    @property
    def is_root(self) -> bool:
        return self.path == ROOT

    @property
    def dom_id(self) -> str:
        return "node-" + self.path.replace(".", "-")

    @property
    def first(self) -> str:
        return self.values[0] if self.values else ""

    @property
    def second(self) -> str:
        return self.values[1] if len(self.values) > 1 else ""

    @property
    def text(self) -> str:
        return ", ".join(self.values)

    @property
    def shown_errors(self) -> list[str]:
        return self.errors if self.tried else []


class AudienceForm:
    """The builder's state from request data (or a definition), its definition and its errors."""

    def __init__(self, data=None, *, user, definition: dict | None = None, attempted: bool = False):
        """`attempted`: the user asked for the audience's members (the list, a save, an export), so
        every condition's errors are shown; otherwise only those of rows tried before."""
        self.user = user
        self.data = data
        self.errors: list[str] = []  # problems not tied to one row
        self.segment = self._segment(data)
        if definition is not None:
            self.root = self.from_definition(definition)
        elif data is not None and any(key.startswith(ROOT + ".") for key in data):
            self.root = self._parse(data)
        elif self.segment is not None:
            self.root = self.from_definition(self.segment.definition)
        else:
            self.root = Node(ROOT, "group")
        self.is_bound = self.root.children != [] or data is not None and bool(data)
        self._definition = None
        self._audience: Audience | None = None
        self._validated = False
        if attempted:
            self.attempt()

    # --- reading the state --------------------------------------------------------------------

    def _segment(self, data) -> Segment | None:
        raw = (data or {}).get("segment") if data is not None else None
        if not raw or not str(raw).isdigit():
            return None
        return scope(Segment.objects.select_related("store"), self.user).filter(pk=int(raw)).first()

    def _parse(self, data) -> Node:
        getlist = getattr(data, "getlist", lambda key: [data[key]] if key in data else [])
        paths = {key.rsplit(".", 1)[0] for key in data if key.startswith(ROOT)}
        paths = sorted((p for p in paths if _PATH.match(p)), key=lambda p: [int(x) for x in p.split(".")[1:]])
        nodes: dict[str, Node] = {}
        root = Node(ROOT, "group", match=_match(data.get(f"{ROOT}.match")))
        nodes[ROOT] = root
        for path in paths[:MAX_NODES]:
            if path == ROOT:
                continue
            parent = nodes.get(path.rsplit(".", 1)[0])
            if parent is None or not parent.is_group:
                continue
            negate = data.get(f"{path}.not") in ("on", "1", "true")
            if f"{path}.match" in data:
                node = Node(path, "group", negate=negate, match=_match(data.get(f"{path}.match")))
            else:
                values = [v.strip() for v in getlist(f"{path}.value") if v is not None]
                node = Node(path, "condition", negate=negate, filter=(data.get(f"{path}.filter") or "").strip(),
                            op=(data.get(f"{path}.op") or "").strip(), arg=(data.get(f"{path}.arg") or "").strip(),
                            values=values)
                if data.get(f"{path}.was") is not None and data.get(f"{path}.was") != node.filter:
                    node.op, node.arg, node.values = "", "", []  # another filter: start its row afresh
                node.tried = bool(node.filter) and data.get(f"{path}.tried") == node.filter
            nodes[path] = node
            parent.children.append(node)
        return root

    @classmethod
    def from_definition(cls, definition) -> Node:
        """The builder tree of a definition (the inverse of definition() for what it writes)."""
        root = _node(definition, ROOT)
        if root.is_group and not root.negate:
            return root
        wrapper = Node(ROOT, "group", match="all", children=[root])
        _renumber(wrapper)
        return wrapper

    # --- actions (htmx) -----------------------------------------------------------------------

    def apply(self, action: str | None) -> None:
        """add:<group path>, group:<group path> or remove:<node path>; then paths are renumbered."""
        if not action or ":" not in action:
            return
        verb, path = action.split(":", 1)
        target = self.find(path)
        if target is None:
            return
        if verb in ("add", "group") and target.is_group and self.size() < MAX_NODES:
            child = Node(f"{path}.x", "group") if verb == "group" else Node(f"{path}.x", "condition")
            if verb == "group":
                child.children.append(Node(f"{path}.x.0", "condition"))
            target.children.append(child)
        elif verb == "remove" and not target.is_root:
            parent = self.find(path.rsplit(".", 1)[0])
            parent.children = [c for c in parent.children if c is not target]
        _renumber(self.root)
        self._definition, self._audience, self._validated, self._dirty = None, None, False, True

    def attempt(self) -> None:
        """The user asked for this audience's members: from now on its rows show their errors."""

        def walk(node):
            node.tried = not node.is_group and bool(node.filter)
            for child in node.children:
                walk(child)

        walk(self.root)

    def shown_errors(self) -> list[str]:
        """The errors of the rows the user has tried (see Node.tried), and those of no one row."""
        found = list(self.errors)

        def walk(node):
            found.extend(node.shown_errors)
            for child in node.children:
                walk(child)

        self.is_valid()
        walk(self.root)
        return found

    def conditions_list(self) -> list[Node]:
        """Every condition row, in order (for the preview's out-of-band error slots)."""
        found = []

        def walk(node):
            if not node.is_group:
                found.append(node)
            for child in node.children:
                walk(child)

        walk(self.root)
        return found

    def find(self, path: str) -> Node | None:
        def walk(node):
            if node.path == path:
                return node
            for child in node.children:
                found = walk(child)
                if found is not None:
                    return found
            return None

        return walk(self.root)

    def size(self) -> int:
        def count(node):
            return 1 + sum(count(c) for c in node.children)

        return count(self.root)

    # --- the definition -------------------------------------------------------------------------

    def definition(self) -> dict:
        if self._definition is None:
            self.decorate()  # settles each row's operator and attribute as the screen shows them
            self._where: dict[str, Node] = {}
            self._definition = self._write(self.root, "$")
        return self._definition

    def _write(self, node: Node, where: str):
        """The node's expression (NOT included); records which node each JSONPath came from."""
        self._where[where] = node
        if node.negate:
            return {"not": self._body(node, f"{where}.not")}
        return self._body(node, where)

    def _body(self, node: Node, where: str):
        self._where[where] = node
        if not node.is_group:
            return self._condition(node)
        written = []
        for child in node.children:
            if not child.is_group and not child.filter:
                continue  # a row not filled in yet
            written.append(self._write(child, f"{where}.{node.match}[{len(written)}]"))
        return {node.match: written}

    def _condition(self, node: Node) -> dict:
        flt = segment_queries.registry.get_filter(node.filter)
        value_type, many = "any", False
        if flt is not None and node.op in flt.value_schema:
            schema = flt.value_schema[node.op]
            value_type, many = schema.type, schema.many
        if node.filter == "attribute":
            definition = self._attributes().get(node.arg)
            if definition is not None:
                value_type = _ATTRIBUTE_SCALAR[definition.type]
            many = node.op in ("in", "between")
        values = [v for v in node.values if v != ""]
        if many:  # a list typed in one box ("1, 2, 3") or picked in a multi-select
            values = [part for v in values for part in _SPLIT.split(v) if part]
        typed = [_typed(v, value_type, node) for v in values]
        if node.op in ("is_null", "is_set") and not typed:
            typed = [True]
        if many:
            value = typed
        else:
            value = typed[0] if typed else None
        if node.filter == "tags":
            return {"tags": {node.op: value}}
        if node.filter == "attribute":
            return {"attribute": node.arg, "op": node.op, "value": value}
        return {"field": node.filter, "op": node.op, "value": value}

    def audience(self) -> Audience:
        """The builder's definition evaluated for its user: parsed once here, then counted, listed and
        sampled by whoever asks first (the member list, the preview), once per request."""
        if self._audience is None:
            self._audience = Audience(self.definition(), actor=self.user, filters=self.catalogue())
        return self._audience

    def is_valid(self) -> bool:
        if not self._validated:
            self._validated = True
            audience = self.audience()
            typed_badly = {id(n) for n in self._where.values() if n.errors}  # already told what is wrong
            for error in audience.errors:
                node = self._node_for(error["path"])
                if id(node) not in typed_badly:
                    node.errors.append(error["message"])
        return not self._has_node_errors(self.root) and not self.errors

    def _node_for(self, path: str) -> Node:
        best = ""
        for where in self._where:
            if (path == where or path.startswith(where + ".")) and len(where) > len(best):
                best = where
        return self._where.get(best, self.root)

    def _has_node_errors(self, node: Node) -> bool:
        return bool(node.errors) or any(self._has_node_errors(c) for c in node.children)

    def all_errors(self) -> list[str]:
        found = list(self.errors)

        def walk(node):
            found.extend(node.errors)
            for child in node.children:
                walk(child)

        walk(self.root)
        return found

    @property
    def conditions(self) -> int:
        def count(node):
            return (0 if node.is_group or not node.filter else 1) + sum(count(c) for c in node.children)

        return count(self.root)

    @property
    def active(self) -> bool:
        """A definition with at least one condition, and valid."""
        return self.conditions > 0 and self.is_valid()

    @property
    def incomplete(self) -> bool:
        """Conditions the server cannot fully understand: such an audience selects no one, never everyone."""
        return self.conditions > 0 and not self.is_valid()

    # --- rendering ------------------------------------------------------------------------------

    def _attributes(self) -> dict[str, AttributeDefinition]:
        if not hasattr(self, "_attribute_cache"):
            found = AttributeDefinition.objects.filter(is_active=True).order_by("label")
            if not sees_sensitive_attributes(self.user):  # the rule of the member page and the API
                found = found.filter(sensitive=False, requires_guardian=False)
            self._attribute_cache = {a.code: a for a in found}
        return self._attribute_cache

    def catalogue(self) -> list[dict]:
        """Every registered filter, grouped for the filter picker."""
        if not hasattr(self, "_catalogue"):
            self._catalogue = segment_queries.describe_filters()
        return self._catalogue

    def filter_choices(self) -> list:
        described = self.catalogue()
        return [(group or _("Other"), [(f["key"], f["label"]) for f in items])
                for group, items in groupby(described, key=lambda f: f["group"])]

    def decorate(self) -> Node:
        """The tree with what each row needs to render (operators, value widget, choices)."""
        if getattr(self, "_decorated", None) is self.root and not getattr(self, "_dirty", False):
            return self.root
        self._decorated, self._dirty = self.root, False
        by_key = {f["key"]: f for f in self.catalogue()}

        def walk(node):
            if node.is_group:
                for child in node.children:
                    walk(child)
                return
            info = by_key.get(node.filter)
            if info is None:
                return  # an unknown filter stays, and validation names it on its row
            operators = [(o["op"], o["label"]) for o in info["operators"]]
            if node.filter == "attribute":
                attributes = self._attributes()
                node.arg_label = info["arg"]["label"]
                node.arg_choices = [(a.code, a.label) for a in attributes.values()]
                if node.arg not in attributes and node.arg_choices:
                    node.arg = node.arg_choices[0][0]
                definition = attributes.get(node.arg)
                if definition is not None:
                    allowed = set(_attribute_operators(definition))
                    operators = [(op, label) for op, label in operators if op in allowed]
            elif "arg" in info:
                node.arg_label = info["arg"]["label"]
                node.arg_choices = [(c["value"], c.get("label", c["value"])) for c in info["arg"]["choices"]]
            node.operators = operators
            if node.op not in {op for op, _label in operators} and operators:
                node.op = operators[0][0]
            node.widget = self._widget(node, info)

        walk(self.root)
        return self.root

    def _widget(self, node: Node, info: dict) -> Widget:
        schema = next((o["value"] for o in info["operators"] if o["op"] == node.op), {"type": "string", "many": False})
        value_type, many = schema["type"], schema["many"]
        if node.op in ("is_null", "is_set"):
            return Widget("bool", "boolean", [("true", _("yes")), ("false", _("no"))])
        if node.filter == "tags":
            tags = Tag.objects.select_related("group").order_by("group__sort_order", "group__name", "name")
            grouped = [(group.name, [(str(t.pk), t.name) for t in items])
                       for group, items in groupby(tags, key=lambda t: t.group)]
            return Widget("multi", "integer", grouped, grouped=True)
        if node.filter == "home_store":
            return Widget("multi", "integer", [(str(s.pk), f"{s.code} {s.name}")
                                               for s in scope(Store.objects.order_by("code"), self.user)])
        if node.filter == "owner":
            staff = scope(User.objects.filter(role__in=STORE_ROLES, is_active=True).order_by("username"), self.user)
            return Widget("multi", "integer", [(str(u.pk), str(u)) for u in staff])
        if node.filter == "attribute":
            definition = self._attributes().get(node.arg)
            value_type = _ATTRIBUTE_SCALAR[definition.type] if definition else "string"
            many = node.op in ("in", "between")
            if definition is not None and definition.choices:
                return Widget("multi" if many else "select", value_type, [(c, c) for c in definition.choices])
            if value_type == "boolean":
                return Widget("bool", "boolean", [("true", _("yes")), ("false", _("no"))])
        if "choices" in schema:
            return Widget("multi" if many else "select", value_type,
                          [(str(c["value"]), c["label"]) for c in schema["choices"]])
        if value_type == "integer" and _small_range(schema):  # scores 1-5: picked, not typed
            numbers = [(str(n), str(n)) for n in range(int(schema["minimum"]), int(schema["maximum"]) + 1)]
            return Widget("multi" if many else "select", value_type, numbers)
        if schema.get("length") == 2 or node.op == "between":
            return Widget("pair", value_type)
        if value_type == "boolean":
            return Widget("bool", "boolean", [("true", _("yes")), ("false", _("no"))])
        if many:
            return Widget("list", value_type)
        kind = {"integer": "number", "number": "number", "date": "date", "month": "month"}.get(value_type, "text")
        return Widget(kind, value_type)


def _small_range(schema: dict) -> bool:
    low, high = schema.get("minimum"), schema.get("maximum")
    return low is not None and high is not None and 0 <= high - low <= 11


def _attribute_operators(definition: AttributeDefinition) -> list[str]:
    from members.segments.filters import _ATTRIBUTE_OPS

    return sorted(_ATTRIBUTE_OPS[definition.type])


def _match(raw) -> str:
    return "any" if raw == "any" else "all"


def _typed(raw: str, value_type: str, node: Node):
    """A text value as the JSON value its filter takes; a bad one is reported on the row."""
    try:
        if value_type == "integer":
            return int(raw)
        if value_type == "number":
            number = float(raw)
            return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
    except ValueError:
        node.errors.append(_("“%(value)s” is not a number.") % {"value": raw})
        return raw
    if value_type == "boolean":
        return raw.lower() in ("true", "1", "yes", "on")
    return raw


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _node(raw, path: str) -> Node:
    """One definition node as a builder node (unknown shapes become an empty row)."""
    if isinstance(raw, dict) and len(raw) == 1 and "not" in raw:
        node = _node(raw["not"], path)
        node.negate = not node.negate
        return node
    if isinstance(raw, dict) and len(raw) == 1 and ("all" in raw or "any" in raw):
        match = "all" if "all" in raw else "any"
        items = raw[match] if isinstance(raw[match], list) else []
        return Node(path, "group", match=match, children=[_node(item, f"{path}.{i}") for i, item in enumerate(items)])
    if isinstance(raw, dict) and isinstance(raw.get("tags"), dict) and len(raw["tags"]) == 1:
        op, value = next(iter(raw["tags"].items()))
        return Node(path, "condition", filter="tags", op=op, values=[_text(v) for v in _list(value)])
    if isinstance(raw, dict) and ("field" in raw or "attribute" in raw):
        key = "attribute" if "attribute" in raw else str(raw.get("field") or "")
        return Node(path, "condition", filter=key, op=str(raw.get("op") or ""), arg=str(raw.get("attribute") or ""),
                    values=[_text(v) for v in _list(raw.get("value"))])
    return Node(path, "condition")


def _list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _renumber(node: Node) -> None:
    for i, child in enumerate(node.children):
        child.path = f"{node.path}.{i}"
        _renumber(child)


class SaveSegmentForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Segment name"), max_length=100)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=500, required=False)
