"""API keys: how they are stored, how they authenticate, what they may reach, and how they fail."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from scrm.errors import InvalidInput
from scrm.models import ApiKey
from scrm.services import api_keys

KEY_FORMAT = re.compile(r"^sy_(?P<prefix>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{40,})$")


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def bearer(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


# --- storage ------------------------------------------------------------------------------


def test_key_has_documented_format_and_only_its_hash_is_stored(db):
    issued = api_keys.issue(name="POS sync", scopes=["members:read"])
    match = KEY_FORMAT.match(issued.plaintext)
    assert match, issued.plaintext

    row = ApiKey.objects.values().get(pk=issued.api_key.pk)
    assert row["prefix"] == match["prefix"]
    assert row["key_hash"] == hashlib.sha256(issued.plaintext.encode()).hexdigest()
    stored = " ".join(str(value) for value in row.values())
    assert issued.plaintext not in stored
    assert match["secret"] not in stored


def test_each_key_is_different(db):
    first = api_keys.issue(name="a", scopes=["members:read"])
    second = api_keys.issue(name="b", scopes=["members:read"])
    assert first.plaintext != second.plaintext
    assert first.api_key.prefix != second.api_key.prefix


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "  ", "scopes": ["members:read"]}, "name"),
        ({"name": "x", "scopes": ["members:delete"]}, "members:delete"),
        ({"name": "x", "scopes": ["members:read"], "expires_at": timezone.now() - timedelta(days=1)}, "future"),
    ],
)
def test_issue_rejects_bad_input(db, kwargs, message):
    with translation.override("en"), pytest.raises(InvalidInput, match=message):
        api_keys.issue(**kwargs)
    assert not ApiKey.objects.exists()


# --- authentication ---------------------------------------------------------------------


def test_bearer_key_authenticates(api_client, make_key, members):
    response = api_client.get("/api/v1/members/", **bearer(make_key(scopes=["members:read"])))
    assert response.status_code == 200
    assert len(response.json()["results"]) == 5


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer garbage", "invalid"),
        ("Bearer sy_deadbeef_notarealsecret", "invalid"),
        ("bearer sy_deadbeef_notarealsecret", "invalid"),
        ("Bearer sy_", "invalid"),
        ("Bearer ", "missing"),
    ],
)
def test_invalid_key_is_401_with_challenge(api_client, db, header, reason):
    response = api_client.get("/api/v1/members/", HTTP_AUTHORIZATION=header)
    error = assert_error(response, 401, "authentication_failed")
    assert error["details"] == {"reason": reason}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_invalid_key_message_follows_the_language(api_client, db):
    english = api_client.get("/api/v1/members/", HTTP_AUTHORIZATION="Bearer nope", HTTP_ACCEPT_LANGUAGE="en")
    chinese = api_client.get("/api/v1/members/", HTTP_AUTHORIZATION="Bearer nope", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert english.json()["error"]["message"] == "Invalid API key."
    assert "无效" in chinese.json()["error"]["message"]


def test_wrong_secret_for_a_real_prefix_is_401(api_client, make_key):
    key = make_key()
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    response = api_client.get("/api/v1/members/", **bearer(tampered))
    assert_error(response, 401, "authentication_failed")


def test_no_credentials_is_401_with_challenge(api_client, db):
    response = api_client.get("/api/v1/members/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_key_is_401_saying_expired(api_client, make_key):
    key = make_key(expires_at=timezone.now() + timedelta(days=1))
    ApiKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api_client.get("/api/v1/members/", HTTP_ACCEPT_LANGUAGE="en", **bearer(key))
    error = assert_error(response, 401, "authentication_failed")
    assert error["details"] == {"reason": "expired"}
    assert "expired" in error["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_key_works_until_it_expires(api_client, make_key, members):
    key = make_key(expires_at=timezone.now() + timedelta(minutes=5))
    assert api_client.get("/api/v1/members/", **bearer(key)).status_code == 200


def test_revoked_key_is_401_saying_revoked(api_client, make_key):
    key = make_key()
    api_keys.revoke(api_key=ApiKey.objects.get())
    response = api_client.get("/api/v1/members/", HTTP_ACCEPT_LANGUAGE="en", **bearer(key))
    error = assert_error(response, 401, "authentication_failed")
    assert error["details"] == {"reason": "revoked"}
    assert "revoked" in error["message"]


def test_revoking_twice_keeps_the_first_revocation_time(make_key):
    make_key()
    key = ApiKey.objects.get()
    first = api_keys.revoke(api_key=key).revoked_at
    assert first is not None
    assert api_keys.revoke(api_key=key).revoked_at == first


def test_last_used_is_recorded_and_not_rewritten_within_a_minute(api_client, make_key, members):
    key = make_key()
    assert ApiKey.objects.get().last_used_at is None

    api_client.get("/api/v1/members/", **bearer(key))
    first_use = ApiKey.objects.get().last_used_at
    assert first_use is not None
    assert timezone.now() - first_use < timedelta(seconds=30)

    api_client.get("/api/v1/members/", **bearer(key))
    assert ApiKey.objects.get().last_used_at == first_use

    two_minutes_ago = timezone.now() - timedelta(minutes=2)
    ApiKey.objects.update(last_used_at=two_minutes_ago)
    api_client.get("/api/v1/members/", **bearer(key))
    assert ApiKey.objects.get().last_used_at > two_minutes_ago + timedelta(minutes=1)


def test_a_rejected_key_is_not_marked_used(api_client, make_key):
    key = make_key()
    api_keys.revoke(api_key=ApiKey.objects.get())
    api_client.get("/api/v1/members/", **bearer(key))
    assert ApiKey.objects.get().last_used_at is None


# --- scopes and stores ---------------------------------------------------------------------


def test_key_without_the_scope_is_403_naming_it(key_client, members):
    client = key_client(scopes=["stores:read"])
    error = assert_error(client.get("/api/v1/members/"), 403, "permission_denied")
    assert "members:read" in error["message"]


def test_read_scope_does_not_allow_writes(key_client, store_a):
    client = key_client(scopes=["stores:read"])
    assert client.get("/api/v1/stores/").status_code == 200
    response = client.post("/api/v1/stores/", {"code": "SH09", "name": "x", "region": "east", "city": "上海"})
    error = assert_error(response, 403, "permission_denied")
    assert "stores:write" in error["message"]


def test_key_with_no_scopes_reaches_nothing(key_client, members):
    client = key_client(scopes=[])
    for path in ("/api/v1/members/", "/api/v1/stores/", "/api/v1/staff/", "/api/v1/regions/"):
        assert_error(client.get(path), 403, "permission_denied")
    assert client.get("/api/v1/me/").status_code == 200


def test_store_bound_key_sees_only_its_store(key_client, members, store_a):
    mine, theirs = members
    client = key_client(scopes=["members:read"], store=store_a)

    listed = client.get("/api/v1/members/").json()["results"]
    assert {m["id"] for m in listed} == {m.pk for m in mine}
    assert {m["home_store"] for m in listed} == {"SH01"}

    assert client.get(f"/api/v1/members/{mine[0].pk}/").status_code == 200
    assert_error(client.get(f"/api/v1/members/{theirs[0].pk}/"), 404, "not_found")


def test_store_bound_key_cannot_filter_its_way_into_another_store(key_client, members, store_a, store_b):
    client = key_client(scopes=["members:read"], store=store_a)
    response = client.get("/api/v1/members/", {"store": store_b.pk})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_brand_wide_key_sees_every_store(key_client, members):
    mine, theirs = members
    client = key_client(scopes=["members:read"])
    listed = client.get("/api/v1/members/").json()["results"]
    assert {m["id"] for m in listed} == {m.pk for m in mine + theirs}
    assert client.get(f"/api/v1/members/{theirs[0].pk}/").status_code == 200


def test_store_bound_key_sees_only_its_store_and_staff(key_client, store_a, bob, carol, dave, alice):
    client = key_client(scopes=["stores:read", "staff:read"], store=store_a)
    assert [s["code"] for s in client.get("/api/v1/stores/").json()["results"]] == ["SH01"]
    assert {u["username"] for u in client.get("/api/v1/staff/").json()["results"]} == {"bob", "carol"}
