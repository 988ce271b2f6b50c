"""What every API endpoint shares: the root and /me, the schema and docs, the error shape,
cursor pagination, throttling, member search and query counts."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import resolve
from rest_framework.test import APIClient

from members.models import Member
from scrm.api.throttling import PrincipalRateThrottle
from scrm.models import Region, Role, Store, User


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    if code is not None:
        assert error["code"] == code
    return error


@pytest.fixture
def alice_client(alice):
    client = APIClient()
    client.force_login(alice)
    return client


# --- root and /me -------------------------------------------------------------------------


def test_root_lists_resources_without_auth(api_client, db):
    response = api_client.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert {"me", "members", "stores", "staff", "regions"} <= set(body["resources"])
    assert body["resources"]["members"].endswith("/api/v1/members/")
    assert body["schema"].endswith("/api/schema/?format=json")
    assert body["docs"].endswith("/api/docs/")


def test_me_for_a_session(api_client, carol):
    api_client.force_login(carol)
    body = api_client.get("/api/v1/me/").json()
    assert body["kind"] == "staff"
    assert body["name"] == "carol"
    assert body["role"] == Role.STORE_STAFF
    assert body["store"] == "SH01"
    assert body["all_stores"] is False
    assert "members:read" in body["scopes"]
    assert "stores:write" not in body["scopes"]


def test_me_for_an_operator(alice_client):
    body = alice_client.get("/api/v1/me/").json()
    assert body["kind"] == "staff"
    assert body["role"] == Role.OPERATOR
    assert body["store"] is None
    assert body["all_stores"] is True
    assert {"api_keys:read", "api_keys:write", "stores:write", "members:write"} <= set(body["scopes"])


def test_me_for_a_store_bound_key(key_client, store_a):
    body = key_client(scopes=["members:read", "stores:read"], store=store_a, name="POS sync").get("/api/v1/me/").json()
    assert body == {
        "kind": "api_key",
        "name": "POS sync",
        "role": "integration",
        "store": "SH01",
        "all_stores": False,
        "scopes": ["members:read", "stores:read"],
    }


def test_me_for_a_brand_wide_key(key_client):
    body = key_client(scopes=["members:read"]).get("/api/v1/me/").json()
    assert body["kind"] == "api_key"
    assert body["store"] is None
    assert body["all_stores"] is True


def test_me_needs_credentials(api_client, db):
    assert_error(api_client.get("/api/v1/me/"), 401, "not_authenticated")


# --- schema and docs ------------------------------------------------------------------------


def test_schema_is_openapi_json_with_the_resources(api_client, db):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Siyu API"
    for path in ("/api/v1/members/", "/api/v1/members/{id}/", "/api/v1/stores/", "/api/v1/me/"):
        assert path in schema["paths"], sorted(schema["paths"])
    assert "ApiKey" in schema["components"]["securitySchemes"]
    member_list = schema["paths"]["/api/v1/members/"]["get"]
    assert {"q", "cursor", "page_size"} <= {p["name"] for p in member_list["parameters"]}


def test_schema_generates_without_warnings(db, tmp_path):
    # --fail-on-warn turns drf-spectacular's guesses (an unknown authenticator, a serializer it
    # cannot see) into errors: a schema that guesses documents the API wrongly.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    schema = (tmp_path / "schema.yml").read_text()
    assert "ApiKey:" in schema and "scheme: bearer" in schema


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_use_only_local_assets(api_client, db, path):
    response = api_client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets, html
    assert any(asset.startswith("/static/") for asset in assets)
    remote = [a for a in assets if a.startswith(("http://", "https://", "//"))]
    assert remote == []
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_docs_assets_are_served(client, db):
    """The docs page is useless if its local scripts 404 (e.g. sidecar missing from INSTALLED_APPS)."""
    from django.contrib.staticfiles import finders

    html = client.get("/api/docs/").content.decode()
    scripts = re.findall(r"""<script[^>]+src\s*=\s*["']/static/([^"'?]+)""", html)
    assert scripts
    for script in scripts:
        assert finders.find(script), script


# --- the error shape ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nothing-here/", "/api/v1/nothing-here/", "/api/v1/members/x/y/"])
def test_unknown_api_url_is_404_in_the_error_shape(alice_client, path):
    assert_error(alice_client.get(path), 404, "not_found")


def test_missing_object_is_404_in_the_error_shape(alice_client):
    assert_error(alice_client.get("/api/v1/members/999999/"), 404, "not_found")


def test_unsupported_method_is_405_in_the_error_shape(alice_client, store_a):
    assert_error(alice_client.delete(f"/api/v1/stores/{store_a.pk}/"), 405, "method_not_allowed")


def test_malformed_json_is_400_in_the_error_shape(alice_client, db):
    response = alice_client.post("/api/v1/stores/", "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_crash_in_an_api_view_is_500_in_the_error_shape(alice, monkeypatch, caplog):
    def boom(self, request, *args, **kwargs):
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr(resolve("/api/v1/members/").func.cls, "list", boom)
    client = APIClient(raise_request_exception=False)
    client.force_login(alice)
    response = client.get("/api/v1/members/")
    error = assert_error(response, 500, "server_error")
    assert "fire" not in error["message"]  # internals stay in the log
    assert any("RuntimeError" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_validation_error_lists_each_field(alice_client, db):
    Region.objects.create(code="east", name="华东")
    response = alice_client.post("/api/v1/stores/", {"code": "SH09", "region": "atlantis", "city": "上海"})
    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]) == {"name", "region"}
    assert all(isinstance(messages, list) and messages for messages in error["details"].values())
    assert not Store.objects.filter(code="SH09").exists()


def test_duplicate_store_code_is_a_field_error(alice_client, store_a):
    response = alice_client.post("/api/v1/stores/", {"code": "SH01", "name": "again", "region": "east", "city": "上海"})
    error = assert_error(response, 400, "validation_error")
    assert "code" in error["details"]


def test_session_writes_need_the_csrf_token(alice, stores):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    new_store = {"code": "SH09", "name": "新店", "region": "east", "city": "上海"}
    error = assert_error(client.post("/api/v1/stores/", new_store), 403, "permission_denied")
    assert "CSRF" in error["message"]
    assert not Store.objects.filter(code="SH09").exists()


def test_key_writes_need_no_csrf_token(make_key, stores):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(scopes=['stores:write'])}")
    new_store = {"code": "SH09", "name": "新店", "region": "east", "city": "上海"}
    assert client.post("/api/v1/stores/", new_store).status_code == 201


# --- cursor pagination ------------------------------------------------------------------------


@pytest.fixture
def many_members(store_a):
    return Member.objects.bulk_create(
        Member(name=f"会员{i}", phone=f"+8613700{i:06d}", home_store=store_a) for i in range(12)
    )


def test_page_size_and_next_link_walk_every_member_once(alice_client, many_members):
    seen = []
    url = "/api/v1/members/?page_size=5"
    pages = 0
    while url:
        response = alice_client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) <= 5
        seen.extend(m["id"] for m in body["results"])
        url = body["next"]
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 12
    assert seen == sorted((m.pk for m in many_members), reverse=True)


def test_previous_link_goes_back(alice_client, many_members):
    first = alice_client.get("/api/v1/members/?page_size=5").json()
    assert first["previous"] is None
    second = alice_client.get(first["next"]).json()
    back = alice_client.get(second["previous"]).json()
    assert [m["id"] for m in back["results"]] == [m["id"] for m in first["results"]]


def test_default_page_size_is_50(alice_client, store_a):
    Member.objects.bulk_create(Member(name=f"m{i}", home_store=store_a) for i in range(55))
    body = alice_client.get("/api/v1/members/").json()
    assert len(body["results"]) == 50
    assert body["next"]


def test_page_size_above_the_limit_is_refused_and_the_limit_pages(alice_client, store_a):
    Member.objects.bulk_create(Member(name=f"m{i}", home_store=store_a) for i in range(505))
    error = assert_error(alice_client.get("/api/v1/members/", {"page_size": 10_000}), 400, "validation_error")
    assert "500" in str(error["details"]["page_size"])
    body = alice_client.get("/api/v1/members/", {"page_size": 500}).json()
    assert len(body["results"]) == 500
    assert body["next"]


def test_bad_cursor_is_400_in_the_error_shape(alice_client, many_members):
    error = assert_error(alice_client.get("/api/v1/members/", {"cursor": "garbage"}), 400, "validation_error")
    assert list(error["details"]) == ["cursor"]


# --- throttling ---------------------------------------------------------------------------------


def test_throttled_request_is_429_with_retry_after(key_client, monkeypatch, members):
    monkeypatch.setattr(PrincipalRateThrottle, "rate", "3/min", raising=False)
    client = key_client(scopes=["members:read"])
    for _ in range(3):
        assert client.get("/api/v1/members/").status_code == 200
    response = client.get("/api/v1/members/")
    error = assert_error(response, 429, "throttled")
    assert isinstance(error["details"]["retry_after"], int)
    assert 1 <= error["details"]["retry_after"] <= 60
    assert int(response["Retry-After"]) == error["details"]["retry_after"]


def test_throttle_is_per_caller(api_client, make_key, monkeypatch, members):
    monkeypatch.setattr(PrincipalRateThrottle, "rate", "1/min", raising=False)
    first, second = make_key(name="one"), make_key(name="two")
    assert api_client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {first}").status_code == 200
    assert api_client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {first}").status_code == 429
    assert api_client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200


def test_sessions_are_throttled_per_account(alice, carol, monkeypatch, members):
    monkeypatch.setattr(PrincipalRateThrottle, "rate", "1/min", raising=False)
    alice_client, carol_client = APIClient(), APIClient()
    alice_client.force_login(alice)
    carol_client.force_login(carol)
    assert alice_client.get("/api/v1/members/").status_code == 200
    assert alice_client.get("/api/v1/members/").status_code == 429
    assert carol_client.get("/api/v1/members/").status_code == 200


# --- member search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "张1",
        "138 0013 0001",
        "13800130001",
        "+86 138 0013 0001",
        "+8613800130001",
        "0086 13800130001",
        "138-0013-0001",
        "(+86) 138-0013-0001",
        "1380013 0001",
    ],
)
def test_member_search_by_name_or_phone(alice_client, members, query):
    mine, _theirs = members
    response = alice_client.post("/api/v1/members/search/", {"q": query}, format="json")  # phones: a body
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["results"]] == [mine[1].pk]


def test_member_search_by_last_digits(alice_client, members):
    mine, theirs = members
    response = alice_client.post("/api/v1/members/search/", {"q": "0001"}, format="json")
    assert {m["id"] for m in response.json()["results"]} == {mine[1].pk, theirs[1].pk}


def test_member_search_by_part_of_a_name(alice_client, members):
    response = alice_client.get("/api/v1/members/", {"q": "李"})
    assert {m["name"] for m in response.json()["results"]} == {"李0", "李1"}


def test_member_search_stays_in_the_callers_store(api_client, carol, members):
    api_client.force_login(carol)
    assert api_client.post("/api/v1/members/search/", {"q": "139 0013 0001"}, format="json").json()["results"] == []
    assert api_client.get("/api/v1/members/", {"q": "李"}).json()["results"] == []


# --- query counts ---------------------------------------------------------------------------------


@pytest.fixture
def fifty_members_across_stores(db):
    east = Region.objects.create(code="east", name="华东")
    stores = Store.objects.bulk_create(
        Store(code=f"S{i:02d}", name=f"店{i}", region=east, city="上海") for i in range(10)
    )
    owners = User.objects.bulk_create(
        User(username=f"guide{i}", role=Role.STORE_STAFF, store=stores[i % 10]) for i in range(25)
    )
    Member.objects.bulk_create(
        Member(name=f"会员{i}", home_store=stores[i % 10], owner=owners[i % 25]) for i in range(50)
    )
    return stores


def test_member_list_does_not_query_per_row(alice_client, fifty_members_across_stores, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = alice_client.get("/api/v1/members/")
    assert len(response.json()["results"]) == 50
    assert {m["owner"] for m in response.json()["results"]} >= {"guide0", "guide24"}


def test_member_list_with_a_key_does_not_query_per_row(
    key_client, fifty_members_across_stores, django_assert_max_num_queries
):
    client = key_client(scopes=["members:read"])
    with django_assert_max_num_queries(4):  # the key, the page, and one audit row for the answer
        response = client.get("/api/v1/members/")
    assert len(response.json()["results"]) == 50


def test_store_list_does_not_query_per_row(alice_client, fifty_members_across_stores, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = alice_client.get("/api/v1/stores/")
    assert len(response.json()["results"]) == 10
    assert {s["region_name"] for s in response.json()["results"]} == {"华东"}


def test_staff_list_does_not_query_per_row(alice_client, fifty_members_across_stores, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = alice_client.get("/api/v1/staff/")
    assert len(response.json()["results"]) == 26
