"""Input no API route can be broken by: each case here once answered 500 (or a value no client can
read). The kernel refuses it (scrm.api.parsers, scrm.api.middleware, scrm.api.filters,
scrm.api.metadata) with a 4xx in the one error shape naming where, and nothing is written."""

from __future__ import annotations

import datetime
import json

import pytest

from members.models import Identity, Member, ServiceNote, Tag, TagGroup
from scrm.permissions import all_scopes

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(key_client):
    return key_client(scopes=all_scopes())


@pytest.fixture
def member(members):
    return members[0][0]


def _raw(api, method, url, body: str):
    return getattr(api, method)(url, data=body.encode("utf-8", "surrogatepass"), content_type="application/json")


def _error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["status"] == status
    if code:
        assert body["code"] == code, body
    return body


def _routes(member):
    return [
        ("post", f"/api/v1/members/{member.id}/notes/", '{"body": "%s"}'),
        ("patch", f"/api/v1/members/{member.id}/", '{"name": "%s"}'),
        (
            "post",
            "/api/v1/members/upsert/",
            '{"identity": {"channel": "wecom", "external_id": "%s"}, "profile": {"name": "x"}}',
        ),
        ("post", "/api/v1/orders/", '{"order_no": "%s", "store": "A1", "amount": "10.00"}'),
        ("post", f"/api/v1/members/{member.id}/consents/", '{"purpose": "%s", "channel": "sms", "granted": true}'),
        ("post", f"/api/v1/members/{member.id}/identities/", '{"channel": "wecom", "external_id": "%s"}'),
    ]


@pytest.mark.parametrize("bad", ["a\\u0000b", "a\\ud800b", "\\udfff"], ids=["nul", "high-surrogate", "low-surrogate"])
@pytest.mark.parametrize("route", range(6))
def test_nul_and_lone_surrogates_in_a_json_string_are_400_naming_the_field(api, member, bad, route):
    method, url, template = _routes(member)[route]
    before = (ServiceNote.objects.count(), Identity.objects.count(), Member.objects.get(pk=member.pk).name)
    body = _error(_raw(api, method, url, template % bad), 400, "validation_error")
    field = next(iter(body["details"]))
    assert field in {"body", "name", "identity.external_id", "order_no", "purpose", "external_id"}, body
    assert (ServiceNote.objects.count(), Identity.objects.count(), Member.objects.get(pk=member.pk).name) == before


def test_a_nul_in_a_key_is_refused(api, member):
    body = _error(_raw(api, "patch", f"/api/v1/members/{member.id}/", '{"na\\u0000me": "x"}'), 400)
    assert body["details"] == {"$": [body["details"]["$"][0]]}


def test_nesting_past_the_limit_is_400_and_nesting_past_pythons_recursion_too(api):
    nested = '{"a": ' * 40 + "1" + "}" * 40
    body = _error(_raw(api, "post", "/api/v1/segments/count/", nested), 400, "validation_error")
    assert next(iter(body["details"])).startswith("a.a.a")
    _error(_raw(api, "post", "/api/v1/segments/count/", "[" * 200_000 + "]" * 200_000), 400, "validation_error")


def test_json_that_is_not_json_is_a_parse_error(api, member):
    _error(_raw(api, "patch", f"/api/v1/members/{member.id}/", '{"name": NaN}'), 400, "parse_error")
    _error(_raw(api, "patch", f"/api/v1/members/{member.id}/", '{"name": '), 400, "parse_error")


@pytest.mark.parametrize("url", ["/api/v1/segments/", "/api/v1/segments/count/", "/api/v1/members/upsert/"])
def test_a_body_over_the_limit_is_413_on_every_route(api, settings, url):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"name": "x", "definition": {"all": [{"field": "name", "op": "eq", "value": "y" * 20_000}]}})
    error = _error(_raw(api, "post", url, body), 413, "payload_too_large")
    assert error["details"] == {"limit_bytes": 10_000}


@pytest.mark.parametrize(
    "url, param",
    [
        ("/api/v1/members/", "updated_after"),
        ("/api/v1/orders/", "placed_after"),
        ("/api/v1/orders/", "placed_before"),
        ("/api/v1/point-entries/", "created_after"),
        ("/api/v1/point-entries/", "created_before"),
        ("/api/v1/point-lots/", "expires_before"),
        ("/api/v1/tier-changes/", "since"),
    ],
)
@pytest.mark.parametrize("offset", ["+20:00", "-16:00", "+23:59"])
def test_a_date_time_filter_with_an_offset_no_place_has_is_400(api, url, param, offset):
    response = api.get(url, {param: f"2026-01-01T00:00:00{offset}"})
    body = _error(response, 400, "validation_error")
    assert param in body["details"], body


def test_a_date_time_filter_with_a_real_offset_still_works(api):
    assert api.get("/api/v1/orders/", {"placed_after": "2026-01-01T00:00:00+14:00"}).status_code == 200
    assert api.get("/api/v1/orders/", {"placed_after": "2026-01-01T00:00:00-12:00"}).status_code == 200


def test_options_on_a_put_route_without_an_id_answers(api):
    response = api.options("/api/v1/orders/attribution-policy/")
    assert response.status_code == 200, response.content
    assert response.json()["name"]


@pytest.mark.parametrize("field", ["name", "gender", "birthday", "stage", "home_store", "owner"])
def test_patch_member_with_an_object_for_a_scalar_names_the_field(api, member, field):
    body = _error(api.patch(f"/api/v1/members/{member.id}/", {field: {"a": 1}}, format="json"), 400)
    assert field in body["details"], body


def test_an_identity_with_an_object_for_a_channel_is_400(api, member):
    body = _error(
        api.post(f"/api/v1/members/{member.id}/identities/", {"channel": {"a": 1}, "external_id": "x"}, format="json"),
        400,
    )
    assert "channel" in body["details"]
    assert not Identity.objects.filter(member=member).exists()


def test_tagging_with_objects_for_member_ids_is_400(api, member):
    tag = Tag.objects.create(group=TagGroup.objects.create(name="g"), name="t")
    body = _error(api.post(f"/api/v1/tags/{tag.id}/members/", {"members": [{"a": 1}]}, format="json"), 400)
    assert "members" in body["details"]


def test_tier_ladder_with_an_object_for_its_levels_is_400(api):
    body = _error(api.patch("/api/v1/tier-ladder/current/", {"levels": {"a": 1}}, format="json"), 400)
    assert "levels" in body["details"]


@pytest.mark.parametrize(
    "url", ["/api/v1/identities/?external_id=a%00b", "/api/v1/members/?q=%00", "/api/v1/members/?a%00=1"]
)
def test_a_nul_in_a_query_parameter_is_400_naming_it(api, url):
    body = _error(api.get(url), 400, "validation_error")
    assert body["details"]


@pytest.mark.parametrize("url", ["/api/v1/identities/a%00b/", "/api/v1/attributes/a%00/", "/api/v1/members/1%00/"])
def test_a_nul_in_a_path_parameter_is_400(api, url):
    body = _error(api.get(url), 400, "validation_error")
    assert "path" in body["details"]


def test_date_times_before_1901_are_written_with_the_fixed_offset(api, member):
    Member.objects.filter(pk=member.pk).update(created_at=datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC))
    response = api.get(f"/api/v1/members/{member.id}/")
    assert response.status_code == 200
    assert response.json()["created_at"] == "1900-01-01T08:00:00+08:00"


@pytest.mark.parametrize("offset", ["+20:00", "-16:30"])
def test_an_order_placed_at_an_offset_no_place_has_is_400_naming_placed_at(api, member, offset):
    from loyalty.orders.models import Order
    from tests.loyalty.orders.data import order

    body = order(placed_at=f"2026-11-20T14:03:00{offset}", store=member.home_store.code, member=member.id)
    response = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"offset{offset}")
    error = _error(response, 400)
    assert "placed_at" in json.dumps(error["details"]), error
    assert not Order.objects.exists()


@pytest.mark.parametrize("days", ["-58800", "31", "abc"])
def test_figures_refuse_a_period_they_do_not_offer(api, days):
    body = _error(api.get("/api/v1/insights/figures/", {"days": days}), 400, "validation_error")
    assert "days" in body["details"]


@pytest.mark.parametrize("url, param", [("/api/v1/tier-changes/", "since"), ("/api/v1/orders/", "placed_after"),
                                        ("/api/v1/members/", "tag")])
def test_an_empty_value_for_a_filter_that_is_not_text_is_400_not_ignored(api, url, param):
    body = _error(api.get(f"{url}?{param}="), 400, "validation_error")
    assert param in body["details"]


def test_a_reward_with_a_per_member_limit_of_zero_is_400_not_a_crash(api):
    from loyalty.points.models import Reward

    body = {"name": "券", "kind": "coupon", "points_cost": 1, "stock": 0, "per_member_limit": 0, "is_active": False,
            "starts_at": "2000-01-01T00:00:00Z", "ends_at": None, "min_tier_rank": 0, "description": ""}
    error = _error(api.post("/api/v1/rewards/", body, format="json"), 400)
    assert "per_member_limit" in error["details"]
    assert not Reward.objects.filter(name="券").exists()


def test_a_tier_ladder_with_an_object_for_its_basis_is_400(api):
    body = {"name": "", "basis": {}, "window_days": 1, "downgrade_policy": "none", "period_end_month": 1,
            "period_end_day": 1, "grace_days": 1, "levels": []}
    error = _error(api.put("/api/v1/tier-ladder/current/", body, format="json"), 400)
    assert "basis" in error["details"]


def test_the_schema_documents_one_object_where_a_route_answers_one(api):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in ("/api/v1/members/{member_id}/tier/", "/api/v1/members/{member_id}/points/",
                 "/api/v1/members/{member_id}/timeline/"):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema.get("type") != "array", (path, schema)
    tagged = paths["/api/v1/members/{member_id}/tags/"]["post"]["responses"]["200"]["content"]["application/json"]
    assert tagged["schema"]["type"] == "array"
    owner = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]["Member"]
    assert owner["properties"]["owner"].get("nullable") is True


def test_an_order_with_an_object_for_its_channel_is_400_naming_it(api, member):
    from tests.loyalty.orders.data import order

    body = order(channel={}, store=member.home_store.code)
    error = _error(api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="channel-object"), 400)
    assert "channel" in error["details"]


def test_a_filter_value_holding_a_percent_sign_is_a_400_quoting_it(api, members):
    body = _error(api.get("/api/v1/members/", {"store": "%&x"}), 400, "validation_error")
    assert "store" in body["details"]
