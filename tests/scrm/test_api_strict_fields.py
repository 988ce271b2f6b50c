"""A JSON body's values are of the type the OpenAPI schema says, or the API answers 400 naming the
field (scrm.api.fields): no number for text, no 1, "yes" or "true" for a boolean, no "12" for an
integer or a related object's id, no JSON number or exponent for a decimal (the schema writes it as a
string). Query strings carry text by nature, but a boolean filter reads only true or false, and
`?format=` names a format. Every writable field of every request body the schema documents is a
strict one, so a request body added later cannot take the lax ones by accident."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from rest_framework import relations, serializers

from loyalty.points.models import PointsPolicy, Reward
from members.models import AttributeDefinition, Tag, TagGroup
from scrm.api import fields as strict
from scrm.models import Region, Store
from scrm.permissions import all_scopes

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(key_client):
    return key_client(scopes=all_scopes())


def refused(response, field: str, *, at: tuple = ()):
    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    for key in at:
        details = details[key]
    assert field in details, details
    return details[field]


def created(response):
    assert response.status_code == 201, response.content
    return response.json()


# --- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [12, 1.5, True, ["x"], {"x": 1}], ids=["int", "float", "bool", "list", "object"])
def test_a_value_that_is_not_text_for_a_text_field_is_a_400_naming_it(api, value):
    refused(api.post("/api/v1/tag-groups/", {"name": value}, format="json"), "name")
    assert not TagGroup.objects.exists()


def test_text_for_a_text_field_is_taken(api):
    assert created(api.post("/api/v1/tag-groups/", {"name": "12"}, format="json"))["name"] == "12"


def test_a_number_for_a_related_objects_code_is_a_400(api):
    Region.objects.create(code="1", name="One")
    body = {"code": "NEW1", "name": "New", "region": 1, "city": "x"}
    refused(api.post("/api/v1/stores/", body, format="json"), "region")
    assert created(api.post("/api/v1/stores/", {**body, "region": "1"}, format="json"))["region"] == "1"


# --- booleans ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0, "yes", "true", "false", "on", "1", 0.0, "null"])
def test_anything_but_true_or_false_for_a_boolean_is_a_400(api, value):
    refused(api.post("/api/v1/tag-groups/", {"name": "g", "multiple": value}, format="json"), "multiple")
    assert not TagGroup.objects.exists()


def test_true_and_false_are_booleans(api):
    for name, value in (("g", True), ("h", False)):
        body = created(api.post("/api/v1/tag-groups/", {"name": name, "multiple": value}, format="json"))
        assert body["multiple"] is value


def test_a_boolean_in_an_edit_is_strict_too(api):
    AttributeDefinition.objects.create(code="shoe", label="Shoe size", type="text")
    response = api.patch("/api/v1/attributes/shoe/", {"is_active": 0}, format="json")
    refused(response, "is_active")
    assert AttributeDefinition.objects.get(code="shoe").is_active is True


# --- integers and related ids ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["12", "1e2", True, 1.5], ids=["text", "exponent", "bool", "fraction"])
def test_anything_but_a_json_integer_for_an_integer_is_a_400(api, value):
    body = {"name": "Mug", "points_cost": value}
    refused(api.post("/api/v1/rewards/", body, format="json"), "points_cost")
    assert not Reward.objects.exists()


def test_an_integer_is_taken_and_so_is_a_whole_number_written_with_a_point(api):
    # JSON Schema's integer is any number with no fraction: 100.0 is the integer 100.
    for name, value in (("Mug", 100), ("Cup", 100.0)):
        body = created(api.post("/api/v1/rewards/", {"name": name, "points_cost": value}, format="json"))
        assert body["points_cost"] == 100


def test_a_related_objects_id_as_text_is_a_400(api):
    group = TagGroup.objects.create(name="Interests")
    refused(api.post("/api/v1/tags/", {"group": str(group.pk), "name": "tea"}, format="json"), "group")
    refused(api.post("/api/v1/tags/", {"group": True, "name": "tea"}, format="json"), "group")
    assert not Tag.objects.exists()
    assert created(api.post("/api/v1/tags/", {"group": group.pk, "name": "tea"}, format="json"))["group"] == group.pk


def test_a_choice_is_the_listed_text(api):
    refused(api.post("/api/v1/rewards/", {"name": "Mug", "points_cost": 5, "kind": 1}, format="json"), "kind")
    refused(api.post("/api/v1/rewards/", {"name": "Mug", "points_cost": 5, "kind": ["gift"]}, format="json"), "kind")
    assert created(api.post("/api/v1/rewards/", {"name": "Mug", "points_cost": 5, "kind": "gift"}, format="json"))


# --- decimals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2, 2.5, "2e0", " 2", "+2", "NaN", "", "-2", True],
                         ids=["int", "float", "exponent", "space", "plus", "nan", "empty", "negative", "bool"])
def test_a_decimal_that_is_not_the_documented_text_is_a_400(api, value):
    before = PointsPolicy.current().points_per_unit
    refused(api.patch("/api/v1/points-policy/current/", {"points_per_unit": value}, format="json"), "points_per_unit")
    assert PointsPolicy.current().points_per_unit == before


def test_a_decimal_as_text_is_taken(api):
    response = api.patch("/api/v1/points-policy/current/", {"points_per_unit": "2.5"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["points_per_unit"] == "2.50"
    assert PointsPolicy.current().points_per_unit == Decimal("2.5")


def test_the_schema_says_decimals_are_text_with_no_sign_where_they_cannot_be_negative(api):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    threshold = schema["components"]["schemas"]["TierLevelInputRequest"]["properties"]["threshold"]
    assert threshold["type"] == "string"
    assert threshold["pattern"].startswith("^(?:"), threshold
    assert re.match(threshold["pattern"], "1000.50") and not re.match(threshold["pattern"], "-1")


# --- form bodies and query strings -------------------------------------------------------------


def test_a_form_body_is_read_as_text(api):
    # multipart and form bodies carry text only; the same fields parse it there.
    class Form(serializers.Serializer):
        flag = strict.BooleanField()
        count = strict.IntegerField()
        name = strict.CharField()

    from django.http import QueryDict

    form = Form(data=QueryDict("flag=true&count=12&name=x"))
    assert form.is_valid(), form.errors
    assert form.validated_data == {"flag": True, "count": 12, "name": "x"}
    assert not Form(data={"flag": "true", "count": "12", "name": "x"}).is_valid()


@pytest.mark.parametrize("value", ["1", "0", "yes", "null", "True"])
def test_a_boolean_filter_reads_only_true_or_false(api, store_a, value):
    refused(api.get(f"/api/v1/stores/?is_active={value}"), "is_active")


def test_a_boolean_filter_filters(api, store_a, store_b):
    Store.objects.filter(pk=store_b.pk).update(is_active=False)
    codes = [row["code"] for row in api.get("/api/v1/stores/?is_active=false").json()["results"]]
    assert codes == [store_b.code]
    codes = [row["code"] for row in api.get("/api/v1/stores/?is_active=true").json()["results"]]
    assert store_b.code not in codes and store_a.code in codes


def test_an_empty_format_is_no_format(api):
    response = api.get("/api/v1/exports/?format=")
    assert response.status_code == 404, response.content
    assert response.json()["error"]["status"] == 404
    assert api.get("/api/v1/exports/?format=json").status_code == 200


# --- every serializer --------------------------------------------------------------------------

LAX = (
    serializers.CharField,
    serializers.BooleanField,
    serializers.IntegerField,
    serializers.FloatField,
    serializers.DecimalField,
    serializers.ChoiceField,
    relations.PrimaryKeyRelatedField,
    relations.SlugRelatedField,
)
STRICT = (
    strict.TextMixin,
    strict.BooleanField,
    strict.IntegerField,
    strict.FloatField,
    strict.DecimalField,
    strict.ChoiceField,
    strict.PrimaryKeyRelatedField,
)


def _request_serializers(monkeypatch) -> dict[str, serializers.Serializer]:
    """Every serializer the OpenAPI schema documents a request body with, by operation."""
    from drf_spectacular.generators import SchemaGenerator

    from scrm.api.schema import AutoSchema

    found = {}
    original = AutoSchema._get_request_for_media_type  # every request body, however it is declared

    def record(self, serializer, direction="request"):
        if serializer is not None:
            found[f"{self.method} {self.path}"] = serializer
        return original(self, serializer, direction)

    monkeypatch.setattr(AutoSchema, "_get_request_for_media_type", record)
    SchemaGenerator().get_schema(request=None, public=True)
    return found


def _lax_fields(field, path: str):
    if getattr(field, "read_only", False):
        return
    if isinstance(field, serializers.ListSerializer):
        yield from _lax_fields(field.child, f"{path}[]")
    elif isinstance(field, serializers.Serializer):
        for name, child in field.fields.items():
            yield from _lax_fields(child, f"{path}.{name}")
    elif isinstance(field, serializers.ListField | serializers.DictField):
        yield from _lax_fields(field.child, f"{path}[]")
    elif isinstance(field, relations.ManyRelatedField):
        yield from _lax_fields(field.child_relation, f"{path}[]")
    elif isinstance(field, LAX) and not isinstance(field, STRICT):
        yield f"{path} ({type(field).__name__})"


def test_every_writable_field_of_every_request_body_is_strict(monkeypatch):
    bodies = _request_serializers(monkeypatch)
    assert len(bodies) > 40, sorted(bodies)
    lax = []
    for operation, serializer in sorted(bodies.items()):
        if isinstance(serializer, type):
            serializer = serializer()
        if isinstance(serializer, serializers.BaseSerializer):
            lax += [f"{operation}: {found}" for found in _lax_fields(serializer, type(serializer).__name__)]
    assert not lax, "use scrm.api.fields (strict.CharField...) or StrictModelSerializer:\n" + "\n".join(lax)
