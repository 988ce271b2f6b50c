"""The member centre's own segment filters: tags, store, owner, stage, gender, source, joined date,
birthday month and custom attributes. Registered by SegmentsConfig.ready()."""

from __future__ import annotations

import datetime
import json

from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext_lazy as _

from members import sql as members_sql
from members.models import AttributeDefinition, AttributeType, Gender, Source, Stage, Tag
from members.segments.registry import Bits, InvalidValue, Leaf, Value, register_filter
from members.services.attributes import hidden_attribute_codes, sees_sensitive_attributes
from scrm.models import Store, User

IDS = Value("integer", many=True, minimum=0)
IS_NULL = Value("boolean")

# --- tags ---------------------------------------------------------------------------------------

_TAG_EXISTS = f"EXISTS (SELECT 1 FROM {members_sql.MEMBER_TAG} mt WHERE mt.member_id = {{m}}.id AND mt.tag_id = %s)"
_TAG_ANY = f"EXISTS (SELECT 1 FROM {members_sql.MEMBER_TAG} mt WHERE mt.member_id = {{m}}.id AND mt.tag_id = ANY(%s))"


def _tags_sql(leaf: Leaf, m: str):
    ids = sorted(set(leaf.value))
    if leaf.op == "all":
        return " AND ".join([_TAG_EXISTS.format(m=m)] * len(ids)), ids
    sql = _TAG_ANY.format(m=m)
    return (f"NOT {sql}" if leaf.op == "none" else sql), [ids]


def _tags_bits(leaf: Leaf) -> Bits:
    ids = tuple(sorted(set(leaf.value)))
    return Bits("tag", ids, match="all" if leaf.op == "all" else "any", negate=leaf.op == "none")


def _existing(model, leaf: Leaf, message) -> None:
    wanted = set(leaf.value)
    found = set(model.objects.filter(id__in=wanted).values_list("id", flat=True))
    missing = [v for v in leaf.value if v not in found]
    if missing:
        raise InvalidValue(message % {"ids": ", ".join(map(str, missing))}, subpath=leaf.path)


def _validate_tags(leaf: Leaf) -> None:
    _existing(Tag, leaf, _("Unknown tag id(s): %(ids)s."))


# --- store and owner: columns kept in the index, NULL as key 0 ------------------------------------------

def _column_filter(column: str, dimension: str):
    def compile_sql(leaf: Leaf, m: str):
        if leaf.op == "is_null":
            return f"{m}.{column} IS {'' if leaf.value else 'NOT '}NULL", []
        sql = f"{m}.{column} = ANY(%s)"
        return (f"NOT coalesce({sql}, false)" if leaf.op == "not_in" else sql), [sorted(set(leaf.value))]

    def bitmap(leaf: Leaf) -> Bits:
        if leaf.op == "is_null":
            return Bits(dimension, (0,), negate=not leaf.value)
        return Bits(dimension, tuple(sorted(set(leaf.value))), negate=leaf.op == "not_in")

    return compile_sql, bitmap


# --- choice columns ---------------------------------------------------------------------------------

def _choice_sql(column: str):
    def compile_sql(leaf: Leaf, m: str):
        sql = f"{m}.{column} = ANY(%s)"
        return (f"NOT {sql}" if leaf.op == "not_in" else sql), [sorted(set(leaf.value))]

    return compile_sql


def _stage_bits(leaf: Leaf) -> Bits:
    # The index keys stages by hashtext(stage), computed by PostgreSQL as the triggers do.
    return Bits("stage", tuple(sorted(set(leaf.value))), negate=leaf.op == "not_in",
                key_sql="ARRAY(SELECT hashtext(v)::bigint FROM unnest(%s::text[]) AS v)")


# --- joined date, birthday month -------------------------------------------------------------------

def _start_of(day: str) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(datetime.date.fromisoformat(day), datetime.time.min))


def _joined_sql(leaf: Leaf, m: str):
    if leaf.op == "within_days":
        return f"{m}.created_at >= now() - make_interval(days => %s)", [leaf.value]
    if leaf.op == "after":
        return f"{m}.created_at >= %s", [_start_of(leaf.value)]
    if leaf.op == "before":
        return f"{m}.created_at < %s", [_start_of(leaf.value)]
    start, end = sorted(leaf.value)
    return f"{m}.created_at >= %s AND {m}.created_at < %s", [
        _start_of(start), _start_of(end) + datetime.timedelta(days=1)]


def _birthday_sql(leaf: Leaf, m: str):
    sql = f"EXTRACT(MONTH FROM {m}.birthday)::int = ANY(%s)"
    return (f"NOT coalesce({sql}, false)" if leaf.op == "not_in" else sql), [sorted(set(leaf.value))]


# --- custom attributes ---------------------------------------------------------------------------------

_ATTRIBUTE_OPS = {
    AttributeType.TEXT: {"eq", "ne", "in", "is_set"},
    AttributeType.NUMBER: {"eq", "ne", "in", "gt", "gte", "lt", "lte", "between", "is_set"},
    AttributeType.DATE: {"eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set"},
    AttributeType.MONTH: {"eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set"},
    AttributeType.BOOLEAN: {"eq", "is_set"},
    AttributeType.CHOICE: {"eq", "ne", "in", "is_set"},
    AttributeType.MULTI_CHOICE: {"contains", "is_set"},
}
_SCALAR_TYPE = {
    AttributeType.TEXT: "string", AttributeType.NUMBER: "number", AttributeType.DATE: "date",
    AttributeType.MONTH: "month", AttributeType.BOOLEAN: "boolean", AttributeType.CHOICE: "string",
    AttributeType.MULTI_CHOICE: "string",
}
_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _validate_attribute(leaf: Leaf) -> None:
    from members.segments.registry import check_scalar

    base = leaf.path.rsplit(".value", 1)[0]
    if not isinstance(leaf.arg, str) or not leaf.arg:
        raise InvalidValue(_("Name the attribute by its code."), subpath=f"{base}.attribute")
    definition = AttributeDefinition.objects.filter(code=leaf.arg).first()
    if definition is None:
        raise InvalidValue(_("Unknown attribute \"%(code)s\".") % {"code": leaf.arg}, subpath=f"{base}.attribute")
    allowed = _ATTRIBUTE_OPS[definition.type]
    if leaf.op not in allowed:
        raise InvalidValue(
            _("Attribute \"%(code)s\" (%(type)s) has no operator \"%(op)s\"; use one of: %(ops)s.")
            % {"code": leaf.arg, "type": definition.type, "op": leaf.op, "ops": ", ".join(sorted(allowed))},
            subpath=f"{base}.op",
        )
    if leaf.op == "is_set":
        return
    values = leaf.value if leaf.op in ("in", "between") else [leaf.value]
    for i, value in enumerate(values):
        where = f"{leaf.path}[{i}]" if leaf.op in ("in", "between") else leaf.path
        problem = check_scalar(_SCALAR_TYPE[definition.type], value)
        is_choice = definition.type in (AttributeType.CHOICE, AttributeType.MULTI_CHOICE)
        if problem is None and is_choice and value not in definition.choices:
            problem = _("must be one of: %(choices)s") % {"choices": ", ".join(definition.choices)}
        if problem is not None:
            raise InvalidValue(_("The value %(problem)s.") % {"problem": problem}, subpath=where)


def _contains(code: str, value) -> str:
    return json.dumps({code: value}, ensure_ascii=False)


def _attribute_sql(leaf: Leaf, m: str):
    code, op, value = leaf.arg, leaf.op, leaf.value
    if op == "is_set":
        return (f"{m}.attributes ? %s" if value else f"NOT ({m}.attributes ? %s)"), [code]
    if op in ("eq", "contains"):
        # Containment uses the GIN jsonb_path_ops index on attributes.
        return f"{m}.attributes @> %s::jsonb", [_contains(code, [value] if op == "contains" else value)]
    if op == "ne":
        return f"NOT ({m}.attributes @> %s::jsonb)", [_contains(code, value)]
    if op == "in":
        return "(" + " OR ".join([f"{m}.attributes @> %s::jsonb"] * len(value)) + ")", [
            _contains(code, v) for v in value]
    bounds = [("gte", value[0]), ("lte", value[1])] if op == "between" else [(op, value)]
    parts, params = [], []
    for bound_op, bound in bounds:
        if isinstance(bound, int | float):
            parts.append(f"(CASE WHEN jsonb_typeof({m}.attributes -> %s) = 'number' "
                         f"THEN ({m}.attributes ->> %s)::numeric {_COMPARE[bound_op]} %s END)")
            params += [code, code, bound]
        else:  # ISO dates and months compare as text
            parts.append(f"(jsonb_typeof({m}.attributes -> %s) = 'string' AND "
                         f"({m}.attributes ->> %s) {_COMPARE[bound_op]} %s)")
            params += [code, code, bound]
    return " AND ".join(parts), params


def hidden_attribute_errors(tree, actor) -> list[dict]:
    """A definition's conditions on attributes `actor` may not see, as validation errors that read
    like an unknown attribute's (nothing says that it exists)."""
    from members.segments.definition import leaves

    conditions = [c.leaf for c in leaves(tree) if c.filter.key == "attribute"]
    hidden = hidden_attribute_codes(actor) if conditions else set()
    return [{"path": f"{leaf.path.rsplit('.value', 1)[0]}.attribute",
             "message": str(_("Unknown attribute \"%(code)s\".") % {"code": leaf.arg})}
            for leaf in conditions if leaf.arg in hidden]


def _attribute_choices(actor=None) -> list[dict]:
    definitions = AttributeDefinition.objects.filter(is_active=True)
    if actor is not None and not sees_sensitive_attributes(actor):
        definitions = definitions.filter(sensitive=False, requires_guardian=False)
    return [
        {"value": a.code, "label": a.label, "type": a.type, "choices": list(a.choices),
         "operators": sorted(_ATTRIBUTE_OPS[a.type])}
        for a in definitions
    ]


def register() -> None:
    profile = _("Profile")
    register_filter(
        "tags", _("Tags"), group=_("Tags"), order=10,
        value_schema={"any": IDS, "all": IDS, "none": IDS},
        compile_sql=_tags_sql, bitmap=_tags_bits, validate=_validate_tags,
    )
    store_sql, store_bits = _column_filter("home_store_id", "store")
    register_filter(
        "home_store", _("Home store"), group=profile, order=20,
        value_schema={"in": IDS, "not_in": IDS, "is_null": IS_NULL},
        compile_sql=store_sql, bitmap=store_bits,
        validate=lambda leaf: leaf.op == "is_null" or _existing(Store, leaf, _("Unknown store id(s): %(ids)s.")),
    )
    owner_sql, owner_bits = _column_filter("owner_id", "owner")
    register_filter(
        "owner", _("Owner (shopping guide)"), group=profile, order=30,
        value_schema={"in": IDS, "not_in": IDS, "is_null": IS_NULL},
        compile_sql=owner_sql, bitmap=owner_bits,
        validate=lambda leaf: leaf.op == "is_null" or _existing(User, leaf, _("Unknown staff id(s): %(ids)s.")),
    )
    stages = Value("string", many=True, choices=Stage.choices)
    register_filter(
        "stage", _("5A stage"), group=profile, order=40,
        value_schema={"in": stages, "not_in": stages},
        compile_sql=_choice_sql("stage"), bitmap=_stage_bits,
    )
    genders = Value("string", many=True, choices=Gender.choices)
    register_filter(
        "gender", _("Gender"), group=profile, order=50,
        value_schema={"in": genders, "not_in": genders}, compile_sql=_choice_sql("gender"),
    )
    sources = Value("string", many=True, choices=Source.choices)
    register_filter(
        "source", _("Source"), group=profile, order=60,
        value_schema={"in": sources, "not_in": sources}, compile_sql=_choice_sql("source"),
    )
    register_filter(
        "joined", _("Joined"), group=profile, order=70,
        value_schema={
            "after": Value("date"), "before": Value("date"), "between": Value("date", many=True, length=2),
            "within_days": Value("integer", minimum=1, maximum=36500),
        },
        compile_sql=_joined_sql,
    )
    months = Value("integer", many=True, minimum=1, maximum=12, options=lambda: sorted(MONTHS.items()))
    register_filter(
        "birthday_month", _("Birthday month"), group=profile, order=80,
        value_schema={"in": months, "not_in": months}, compile_sql=_birthday_sql,
    )
    register_filter(
        "attribute", _("Custom attribute"), group=_("Custom attributes"), order=90,
        value_schema={
            "eq": Value("any"), "ne": Value("any"), "in": Value("any", many=True), "contains": Value("string"),
            "gt": Value("any"), "gte": Value("any"), "lt": Value("any"), "lte": Value("any"),
            "between": Value("any", many=True, length=2), "is_set": Value("boolean"),
        },
        compile_sql=_attribute_sql, validate=_validate_attribute, arg=_("Attribute"),
        describe_args=_attribute_choices,
    )
