"""Each input serializer of the member API's writes says what its service accepts. The services
validate (so the API, imports and tasks give the same errors); the serializers document the
request bodies in the OpenAPI schema. For every field a serializer documents, these tests send
what the documentation promises through the API and expect the service to take it (the longest
value, each choice, null and "" where allowed, the body with the required fields only), and send
what the documentation rules out and expect a 400 naming that field (one character too many, an
undocumented choice, a value of the wrong type, "" where not allowed, a required field left out)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

from members.api import serializers as s
from members.models import Member, StaffRelation, Tag, TagGroup

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


def unique(prefix: str = "id") -> str:
    return f"{prefix}-{next(_numbers)}"


def unique_phone() -> str:
    return f"+86139{next(_numbers):08d}"


@dataclass
class World:
    client: APIClient
    store: object
    guide: object

    def member(self) -> Member:
        return Member.objects.create(name=unique("member"), home_store=self.store)


def _as_is(body: dict) -> dict:
    return body


def _no_fit(name: str, value, body: dict) -> None:
    return None


@dataclass
class Endpoint:
    """A write endpoint: prepare(world) -> (url, minimal valid body). `at` is where the serializer's
    field errors are in the error's details; `wrap` builds the body sent from a body of the fields;
    `fit` adjusts the rest of a body to a field's value (a phone identity needs a phone number)."""

    serializer: type[serializers.Serializer]
    method: str
    prepare: Callable[[World], tuple[str, dict]]
    at: tuple[str, ...] = ()
    wrap: Callable[[dict], dict] = _as_is
    fit: Callable[[str, object, dict], None] = _no_fit


def _member_url(path: str = "") -> Callable[[World], str]:
    def build(world: World) -> str:
        return f"/api/v1/members/{world.member().pk}/{path}"

    return build


def _fit_identity(name, value, body) -> None:
    if name == "channel" and value == "phone":
        body["external_id"] = unique_phone()
    if name == "channel" and value == "email":
        body["external_id"] = f"{unique()}@example.com"


def _fit_definition(name, value, body) -> None:
    if name == "type":
        body["choices"] = ["a", "b"] if value in ("choice", "multi_choice") else []


def _relation(world: World) -> tuple[str, dict]:
    member = world.member()
    relation = StaffRelation.objects.create(member=member, staff=world.guide, store=world.store)
    return f"/api/v1/members/{member.pk}/relations/{relation.pk}/", {}


def _merge(world: World) -> tuple[str, dict]:
    return f"/api/v1/members/{world.member().pk}/merge/", {"duplicate": world.member().pk}


def _tag() -> Tag:
    return Tag.objects.create(group=TagGroup.objects.create(name=unique("group")), name=unique("tag"))


ENDPOINTS = {
    "create member": Endpoint(s.MemberInputSerializer, "post", lambda w: ("/api/v1/members/", {})),
    "edit member": Endpoint(s.ProfileInputSerializer, "patch", lambda w: (_member_url()(w), {})),
    "upsert member": Endpoint(
        s.UpsertInputSerializer, "post",
        lambda w: ("/api/v1/members/upsert/", {"identities": [{"channel": "wecom", "external_id": unique()}]})),
    "bulk upsert": Endpoint(
        s.BulkUpsertInputSerializer, "post",
        lambda w: ("/api/v1/members/bulk-upsert/",
                   {"items": [{"identities": [{"channel": "wecom", "external_id": unique()}]}]})),
    "bulk upsert item": Endpoint(
        s.UpsertInputSerializer, "post",
        lambda w: ("/api/v1/members/bulk-upsert/", {"identities": [{"channel": "wecom", "external_id": unique()}]}),
        at=("items", "0"), wrap=lambda body: {"items": [body]}),
    "add identity": Endpoint(
        s.IdentitySerializer, "post",
        lambda w: (_member_url("identities/")(w), {"channel": "wecom", "external_id": unique()}), fit=_fit_identity),
    "tag member": Endpoint(s.TagIdsSerializer, "post", lambda w: (_member_url("tags/")(w), {"tags": [_tag().pk]})),
    "tag members": Endpoint(
        s.MemberIdsSerializer, "post", lambda w: (f"/api/v1/tags/{_tag().pk}/members/", {"members": [w.member().pk]})),
    "add note": Endpoint(s.ServiceNoteSerializer, "post", lambda w: (_member_url("notes/")(w), {"body": "70%"})),
    "add relation": Endpoint(
        s.RelationInputSerializer, "post", lambda w: (_member_url("relations/")(w), {"staff": w.guide.username})),
    "edit relation": Endpoint(s.RelationUpdateSerializer, "patch", _relation),
    "record consent": Endpoint(
        s.ConsentInputSerializer, "post",
        lambda w: (_member_url("consents/")(w), {"purpose": "marketing", "granted": True})),
    "merge": Endpoint(s.MergeInputSerializer, "post", _merge),
    "erase": Endpoint(s.EraseInputSerializer, "post", lambda w: (_member_url("erase/")(w), {})),
    "declare attribute": Endpoint(
        s.AttributeDefinitionSerializer, "post",
        lambda w: ("/api/v1/attributes/", {"code": unique("code").replace("-", "_"), "label": "x", "type": "text"}),
        fit=_fit_definition),
    "create tag group": Endpoint(s.TagGroupSerializer, "post", lambda w: ("/api/v1/tag-groups/", {"name": unique()})),
    "create tag": Endpoint(
        s.TagSerializer, "post",
        lambda w: ("/api/v1/tags/", {"group": TagGroup.objects.create(name=unique()).pk, "name": unique()})),
}


@pytest.fixture
def world(alice, store_a, carol):
    client = APIClient()
    client.force_login(alice)
    return World(client=client, store=store_a, guide=carol)


def writable(serializer_class) -> dict[str, serializers.Field]:
    return {name: f for name, f in serializer_class().fields.items() if not f.read_only}


def send(world: World, endpoint: Endpoint, change: Callable[[dict], None] | None = None):
    url, body = endpoint.prepare(world)
    if change is not None:
        change(body)
    return getattr(world.client, endpoint.method)(url, endpoint.wrap(body), format="json")


def set_field(endpoint: Endpoint, name: str, value) -> Callable[[dict], None]:
    def change(body: dict) -> None:
        body[name] = value
        endpoint.fit(name, value, body)

    return change


def accepted(response) -> None:
    assert response.status_code in (200, 201, 204), response.content


def refused(response, endpoint: Endpoint, name: str) -> None:
    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    for key in endpoint.at:
        details = details[key]
    assert name in details, details


def cases(check: Callable[[str, serializers.Field], bool]) -> list:
    found = []
    for label, endpoint in ENDPOINTS.items():
        for name, f in writable(endpoint.serializer).items():
            if check(name, f):
                found.append(pytest.param(label, name, id=f"{label}.{name}"))
    return found


def _text(f) -> bool:
    return isinstance(f, serializers.CharField) and not isinstance(f, serializers.ChoiceField)


def _longest(f) -> str:
    return "x" * f.max_length


# --- what the serializers document is accepted ------------------------------------------------


@pytest.mark.parametrize("label", list(ENDPOINTS))
def test_the_required_fields_alone_are_accepted(world, label):
    endpoint = ENDPOINTS[label]
    required = {name for name, f in writable(endpoint.serializer).items() if f.required}
    _url, body = endpoint.prepare(world)
    assert set(body) == required
    accepted(send(world, endpoint))


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: _text(f) and f.max_length is not None))
def test_the_longest_documented_text_is_accepted(world, label, name):
    endpoint = ENDPOINTS[label]
    accepted(send(world, endpoint, set_field(endpoint, name, _longest(writable(endpoint.serializer)[name]))))


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: isinstance(f, serializers.ChoiceField)))
def test_each_documented_choice_is_accepted(world, label, name):
    endpoint = ENDPOINTS[label]
    for choice in writable(endpoint.serializer)[name].choices:
        accepted(send(world, endpoint, set_field(endpoint, name, choice)))


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: getattr(f, "allow_null", False)))
def test_null_is_accepted_where_documented(world, label, name):
    endpoint = ENDPOINTS[label]
    accepted(send(world, endpoint, set_field(endpoint, name, None)))


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: _text(f) and f.allow_blank))
def test_empty_text_is_accepted_where_documented(world, label, name):
    endpoint = ENDPOINTS[label]
    accepted(send(world, endpoint, set_field(endpoint, name, "")))


# --- what they rule out is refused, naming the field ------------------------------------------


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: _text(f) and f.max_length is not None))
def test_one_character_too_many_is_refused(world, label, name):
    endpoint = ENDPOINTS[label]
    too_long = _longest(writable(endpoint.serializer)[name]) + "x"
    refused(send(world, endpoint, set_field(endpoint, name, too_long)), endpoint, name)


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: isinstance(f, serializers.ChoiceField)))
def test_an_undocumented_choice_is_refused(world, label, name):
    endpoint = ENDPOINTS[label]
    refused(send(world, endpoint, set_field(endpoint, name, "not-a-choice")), endpoint, name)


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: _text(f) and not f.allow_blank))
def test_empty_text_is_refused_where_not_allowed(world, label, name):
    endpoint = ENDPOINTS[label]
    refused(send(world, endpoint, set_field(endpoint, name, "")), endpoint, name)


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: f.required))
def test_a_required_field_left_out_is_refused(world, label, name):
    endpoint = ENDPOINTS[label]
    refused(send(world, endpoint, lambda body: body.pop(name)), endpoint, name)


WRONG_TYPES = {
    serializers.BooleanField: "maybe",
    serializers.IntegerField: "many",
    serializers.DateTimeField: "yesterday",
    serializers.DateField: "1990-13-45",
    serializers.DictField: "not an object",
    serializers.ListField: "not a list",
    serializers.ListSerializer: "not a list",
}


def _wrong(f):
    return next((value for kind, value in WRONG_TYPES.items() if isinstance(f, kind)), None)


@pytest.mark.parametrize(("label", "name"), cases(lambda name, f: _wrong(f) is not None))
def test_a_value_of_the_wrong_type_is_refused(world, label, name):
    endpoint = ENDPOINTS[label]
    value = _wrong(writable(endpoint.serializer)[name])
    refused(send(world, endpoint, set_field(endpoint, name, value)), endpoint, name)


def _limited_list(name, f) -> bool:
    return isinstance(f, serializers.ListField | serializers.ListSerializer) and f.max_length is not None


@pytest.mark.parametrize(("label", "name"), cases(_limited_list))
def test_a_list_longer_than_documented_is_refused(world, label, name):
    endpoint = ENDPOINTS[label]
    limit = writable(endpoint.serializer)[name].max_length

    def too_many(body):
        body[name] = list(range(1, limit + 2)) if name == "members" else [
            {"identities": [{"channel": "wecom", "external_id": unique()}]} for _ in range(limit + 1)]

    refused(send(world, endpoint, too_many), endpoint, name)


# --- nested fields ------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["create member", "upsert member", "bulk upsert item"])
def test_nested_identities_follow_the_identity_serializer(world, label):
    endpoint = ENDPOINTS[label]
    identity = s.IdentitySerializer().fields
    at = (*endpoint.at, "identities", "0")
    nested = Endpoint(endpoint.serializer, endpoint.method, endpoint.prepare, at=at, wrap=endpoint.wrap)
    for name, f in identity.items():
        if f.read_only or not getattr(f, "max_length", None):
            continue
        ok = {"channel": "wecom", "external_id": unique(), name: "x" * f.max_length}
        accepted(send(world, nested, lambda body, ok=ok: body.update(identities=[ok])))
        too_long = {"channel": "wecom", "external_id": unique(), name: "x" * (f.max_length + 1)}
        refused(send(world, nested, lambda body, bad=too_long: body.update(identities=[bad])), nested, name)
    bad_channel = {"channel": "not-a-channel", "external_id": unique()}
    refused(send(world, nested, lambda body: body.update(identities=[bad_channel])), nested, "channel")


def test_definition_choices(world):
    endpoint = ENDPOINTS["declare attribute"]
    child = writable(endpoint.serializer)["choices"].child
    longest = "x" * child.max_length
    accepted(send(world, endpoint, lambda body: body.update(type="choice", choices=[longest])))
    refused(send(world, endpoint, lambda body: body.update(type="choice", choices=[longest + "x"])), endpoint,
            "choices")


def test_the_limits_documented_are_the_models():
    """The serializers read their limits from the models and services, not from numbers of their own."""
    from members.models import ConsentRecord, Identity, MemberMerge, ServiceNote
    from members.services import privacy, tags, upsert

    fields = s.ProfileInputSerializer().fields
    assert fields["name"].max_length == Member._meta.get_field("name").max_length
    consent = s.ConsentInputSerializer().fields
    assert consent["source"].max_length == ConsentRecord._meta.get_field("source").max_length
    assert consent["evidence"].max_length == ConsentRecord._meta.get_field("evidence").max_length
    relation = s.RelationInputSerializer().fields
    for name in ("state", "remark", "description"):
        assert relation[name].max_length == StaffRelation._meta.get_field(name).max_length
    identity = s.IdentitySerializer().fields
    assert identity["external_id"].max_length == Identity._meta.get_field("external_id").max_length
    assert s.MergeInputSerializer().fields["reason"].max_length == MemberMerge._meta.get_field("reason").max_length
    assert s.ServiceNoteSerializer().fields["body"].max_length == ServiceNote._meta.get_field("body").max_length
    assert s.EraseInputSerializer().fields["reason"].max_length == privacy.ERASE_REASON_MAX
    assert s.MemberIdsSerializer().fields["members"].max_length == tags.MAX_IDS
    assert s.BulkUpsertInputSerializer().fields["items"].max_length == upsert.MAX_BATCH
