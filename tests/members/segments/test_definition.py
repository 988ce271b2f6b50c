"""Definitions: validation errors name the bad node's path; the registry takes other apps' filters."""

from __future__ import annotations

import pytest

from members.models import AttributeDefinition
from members.segments import queries, registry
from members.segments.definition import DefinitionError
from members.segments.registry import Bits, Value

pytestmark = pytest.mark.django_db


def errors_of(definition):
    with pytest.raises(DefinitionError) as info:
        queries.validate_definition(definition)
    return {e["path"]: e["message"] for e in info.value.errors}


def test_a_full_definition_validates(tags, store_a, carol):
    AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2", "Other"])
    tree = queries.validate_definition({"all": [
        {"tags": {"any": [tags[0].pk, tags[1].pk]}},
        {"tags": {"none": [tags[2].pk]}},
        {"field": "stage", "op": "in", "value": ["act", "advocate"]},
        {"field": "home_store", "op": "in", "value": [store_a.pk]},
        {"field": "owner", "op": "is_null", "value": False},
        {"attribute": "milk_brand", "op": "eq", "value": "A2"},
        {"any": [{"field": "gender", "op": "in", "value": ["f"]}, {"not": {"field": "birthday_month", "op": "in",
                                                                          "value": [1, 2]}}]},
        {"field": "joined", "op": "between", "value": ["2024-01-01", "2024-12-31"]},
    ]})
    assert len(tree.children) == 8


def test_errors_name_the_path_of_each_bad_node(tags):
    errors = errors_of({"all": [
        {"tags": {"any": [tags[0].pk, 999999]}},
        {"field": "shoe_size", "op": "in", "value": [1]},
        {"any": [{"field": "stage", "op": "in", "value": ["sleeping"]}]},
        {"field": "stage", "op": "gt", "value": "act"},
        {"not": [1]},
        {"field": "birthday_month", "op": "in", "value": [13]},
        {"field": "joined", "op": "after", "value": "2024-02-30"},
        {"wat": 1},
    ]})
    assert "999999" in errors["$.all[0].tags.any"]
    assert 'Unknown filter "shoe_size"' in errors["$.all[1].field"]
    assert "must be one of" in errors["$.all[2].any[0].value[0]"]
    assert 'no operator "gt"' in errors["$.all[3].op"]
    assert "$.all[4].not" in errors
    assert "at most 12" in errors["$.all[5].value[0]"]
    assert "YYYY-MM-DD" in errors["$.all[6].value"]
    assert "Unknown condition" in errors["$.all[7]"]


def test_shape_errors():
    assert "$" in errors_of([])
    assert "$.all" in errors_of({"all": {"tags": {}}})
    assert "$" in errors_of({"all": [], "any": []})
    assert "$.any[0]" in errors_of({"any": [{"tags": {"any": [1], "all": [2]}}]})
    assert "$.value" in errors_of({"field": "stage", "op": "in", "value": []})
    deep = {"all": []}
    for _ in range(20):
        deep = {"not": deep}
    assert any("levels deep" in message for message in errors_of(deep).values())


def test_attribute_errors():
    AttributeDefinition.objects.create(code="kids", label="孩子数", type="number")
    errors = errors_of({"any": [
        {"attribute": "nope", "op": "eq", "value": 1},
        {"attribute": "kids", "op": "contains", "value": "x"},
        {"attribute": "kids", "op": "gt", "value": "three"},
    ]})
    assert 'Unknown attribute "nope"' in errors["$.any[0].attribute"]
    assert "$.any[1].op" in errors
    assert "must be a number" in errors["$.any[2].value"]


def test_rule_tag_cannot_use_itself(tags):
    with pytest.raises(DefinitionError) as info:
        queries.validate_definition({"tags": {"any": [tags[0].pk]}}, forbid_tags={tags[0].pk})
    assert info.value.errors[0]["path"] == "$.tags.any"


def test_another_app_contributes_a_filter(population):
    """An app registers a filter from its ready() without members importing it; unknown until then."""
    assert "$.field" in errors_of({"field": "vip", "op": "eq", "value": True})
    registry.register_filter(
        "vip", "VIP",
        value_schema={"eq": Value("boolean")},
        compile_sql=lambda leaf, m: (f"({m}.id % 2 = 0) = %s", [leaf.value]),
    )
    try:
        assert queries.count({"field": "vip", "op": "eq", "value": True}, None) == 0  # no actor, nobody
        described = {f["key"]: f for f in queries.describe_filters()}
        assert described["vip"]["operators"][0]["value"] == {"type": "boolean", "many": False}
        assert described["vip"]["bitmap"] is False
    finally:
        registry.unregister_filter("vip")


def test_describe_lists_members_filters():
    AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2"])
    described = {f["key"]: f for f in registry.describe()}
    assert {"tags", "home_store", "owner", "stage", "gender", "source", "joined", "birthday_month",
            "attribute"} <= set(described)
    assert [op["op"] for op in described["tags"]["operators"]] == ["any", "all", "none"]
    assert described["tags"]["bitmap"] is True and described["gender"]["bitmap"] is False
    stage_values = described["stage"]["operators"][0]["value"]
    assert [c["value"] for c in stage_values["choices"]] == ["aware", "appeal", "ask", "act", "advocate"]
    assert described["attribute"]["arg"]["choices"][0]["value"] == "milk_brand"


def test_bits_key_sql_is_used_for_stage():
    from members.models import Stage

    assert Bits("stage", ("act",)).key_sql == "%s::bigint[]"
    # hashtext keys of the stages do not collide
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT hashtext(s)) FROM unnest(%s::text[]) AS s", [list(Stage.values)])
        assert cursor.fetchone()[0] == len(Stage.values)
