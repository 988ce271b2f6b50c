"""Segment definitions: JSON boolean expressions over registered filters, parsed and validated.

    {"all": [                                   # and      ("any": [...] or, "not": {...} not)
        {"tags": {"any": [12, 15]}},            # tags: "any" / "all" / "none" of tag ids
        {"tags": {"none": [31]}},
        {"field": "stage", "op": "in", "value": ["act", "advocate"]},
        {"field": "home_store", "op": "in", "value": [3]},
        {"attribute": "milk_brand", "op": "eq", "value": "A2"},
        {"any": [{"field": "gender", "op": "in", "value": ["f"]}, {"not": {"field": "birthday_month",
                 "op": "in", "value": [1, 2]}}]},
    ]}

`{"all": []}` is every live member, `{"any": []}` nobody. Every error names the path of the bad node
in JSONPath style ("$.all[2].value[0]") and all errors are reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from members.segments import registry
from members.segments.registry import Leaf

MAX_DEPTH = 12
MAX_NODES = 500
MAX_LIST = 5000


class DefinitionError(ValueError):
    """A definition that cannot be used; `errors` is a list of {"path", "message"}."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))


@dataclass(frozen=True)
class All:
    children: tuple


@dataclass(frozen=True)
class Any:
    children: tuple


@dataclass(frozen=True)
class Not:
    child: object


@dataclass(frozen=True)
class Condition:
    leaf: Leaf
    filter: registry.Filter


def parse(definition, *, forbid_tags: frozenset[int] = frozenset()):
    """The validated expression tree of `definition`, or DefinitionError listing every problem.
    `forbid_tags`: tag ids the definition may not use (a rule tag's own id)."""
    parser = _Parser(forbid_tags)
    tree = parser.node(definition, "$", 0)
    if parser.errors:
        raise DefinitionError(parser.errors)
    return tree


def leaves(tree):
    """Every Condition of a tree, depth first."""
    if isinstance(tree, Condition):
        yield tree
    elif isinstance(tree, Not):
        yield from leaves(tree.child)
    else:
        for child in tree.children:
            yield from leaves(child)


class _Parser:
    def __init__(self, forbid_tags):
        self.errors: list[dict] = []
        self.nodes = 0
        self.forbid_tags = forbid_tags

    def error(self, path: str, message) -> None:
        self.errors.append({"path": path, "message": str(message)})

    def node(self, raw, path: str, depth: int):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.error(path, _("The definition has more than %(n)d conditions.") % {"n": MAX_NODES})
            return All(())
        if depth > MAX_DEPTH:
            self.error(path, _("The definition is nested more than %(n)d levels deep.") % {"n": MAX_DEPTH})
            return All(())
        if not isinstance(raw, dict):
            self.error(path, _("Expected an object such as {\"all\": [...]}, {\"field\": ...} or {\"tags\": ...}."))
            return All(())
        for combinator in ("all", "any"):
            if combinator in raw:
                if len(raw) != 1:
                    self.error(path, _("\"%(key)s\" must be the only key of its object.") % {"key": combinator})
                    return All(())
                items = raw[combinator]
                if not isinstance(items, list):
                    self.error(f"{path}.{combinator}", _("Expected a list of conditions."))
                    return All(())
                children = tuple(
                    self.node(item, f"{path}.{combinator}[{i}]", depth + 1) for i, item in enumerate(items)
                )
                return All(children) if combinator == "all" else Any(children)
        if "not" in raw:
            if len(raw) != 1:
                self.error(path, _("\"not\" must be the only key of its object."))
                return All(())
            return Not(self.node(raw["not"], f"{path}.not", depth + 1))
        if "tags" in raw:
            return self.tags(raw, path)
        if "attribute" in raw:
            return self.leaf(raw, path, "attribute", arg=raw.get("attribute"), extra_keys={"attribute"})
        if "field" in raw:
            return self.leaf(raw, path, raw.get("field"), extra_keys={"field"})
        keys = ", ".join(sorted(map(str, raw))) or "{}"
        self.error(path, _("Unknown condition (%(keys)s): expected all, any, not, field, tags or attribute.") % {
            "keys": keys})
        return All(())

    def tags(self, raw, path: str):
        spec = raw["tags"]
        if len(raw) != 1 or not isinstance(spec, dict) or len(spec) != 1:
            self.error(path, _("Write tag conditions as {\"tags\": {\"any\": [ids]}} (or \"all\" / \"none\")."))
            return All(())
        op, value = next(iter(spec.items()))
        return self.check(Leaf("tags", op, value, None, f"{path}.tags.{op}"), path, value_path=f"{path}.tags.{op}",
                          op_path=f"{path}.tags")

    def leaf(self, raw, path: str, key, *, arg=None, extra_keys=frozenset()):
        unknown = set(raw) - {"op", "value"} - set(extra_keys)
        if unknown:
            self.error(path, _("Unknown key(s): %(keys)s.") % {"keys": ", ".join(sorted(map(str, unknown)))})
            return All(())
        if not isinstance(key, str) or not key:
            self.error(f"{path}.field", _("Name the filter, e.g. \"stage\"."))
            return All(())
        if "op" not in raw:
            self.error(f"{path}.op", _("The operator is missing."))
            return All(())
        return self.check(Leaf(key, raw["op"], raw.get("value"), arg, path), path, value_path=f"{path}.value",
                          op_path=f"{path}.op")

    def check(self, leaf: Leaf, path: str, *, value_path: str, op_path: str):
        flt = registry.get_filter(leaf.field)
        if flt is None:
            known = ", ".join(f.key for f in registry.filters())
            where = f"{path}.field" if leaf.field != "tags" else path
            self.error(where, _("Unknown filter \"%(key)s\"; known filters: %(known)s.") % {
                "key": leaf.field, "known": known})
            return All(())
        schema = flt.value_schema.get(leaf.op) if isinstance(leaf.op, str) else None
        if schema is None:
            self.error(op_path, _("Filter \"%(key)s\" has no operator \"%(op)s\"; use one of: %(ops)s.") % {
                "key": flt.key, "op": leaf.op, "ops": ", ".join(flt.value_schema)})
            return All(())
        leaf = Leaf(leaf.field, leaf.op, leaf.value, leaf.arg, value_path)
        if not self.check_value(schema, leaf.value, value_path):
            return All(())
        if leaf.field == "tags" and self.forbid_tags & set(leaf.value):
            self.error(value_path, _("A rule tag cannot use itself in its rule."))
            return All(())
        if flt.validate is not None:
            try:
                flt.validate(leaf)
            except registry.InvalidValue as exc:
                self.error(path + exc.subpath if exc.subpath.startswith(".") else exc.subpath, exc.message)
                return All(())
        return Condition(leaf, flt)

    def check_value(self, schema: registry.Value, value, path: str) -> bool:
        if schema.many:
            if not isinstance(value, list) or not value:
                self.error(path, _("Expected a non-empty list."))
                return False
            if schema.length is not None and len(value) != schema.length:
                self.error(path, _("Expected a list of %(n)d values.") % {"n": schema.length})
                return False
            if len(value) > MAX_LIST:
                self.error(path, _("At most %(n)d values.") % {"n": MAX_LIST})
                return False
            checked = [self.check_one(schema, item, f"{path}[{i}]") for i, item in enumerate(value)]  # every error
            return all(checked)
        return self.check_one(schema, value, path)

    def check_one(self, schema: registry.Value, value, path: str) -> bool:
        problem = registry.check_scalar(schema.type, value)
        if problem is None and schema.choices is not None and value not in {v for v, _label in schema.choices}:
            problem = _("must be one of: %(choices)s") % {"choices": ", ".join(str(v) for v, _l in schema.choices)}
        if problem is None and schema.minimum is not None and value < schema.minimum:
            problem = _("must be at least %(n)s") % {"n": schema.minimum}
        if problem is None and schema.maximum is not None and value > schema.maximum:
            problem = _("must be at most %(n)s") % {"n": schema.maximum}
        if problem is not None:
            self.error(path, _("The value %(problem)s.") % {"problem": problem})
            return False
        return True
