"""Member API: list/search/filters, detail, create, edit, upsert, bulk upsert, merge, duplicates,
export and erase; the error shape for each bad input; store scoping for sessions and keys."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from members.models import (
    AttributeDefinition,
    Identity,
    Member,
    MemberMerge,
    MemberTag,
    ServiceNote,
    Tag,
    TagGroup,
)
from members.services import consent, notes, relations
from scrm.models import AuditLog


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def as_alice(alice):
    return client_for(alice)


@pytest.fixture
def as_carol(carol):
    return client_for(carol)


@pytest.fixture
def as_dave(dave):
    return client_for(dave)


def post(client, url, data):
    return client.post(url, data, format="json")


def patch(client, url, data):
    return client.patch(url, data, format="json")


# --- list, search, detail ---------------------------------------------------------------------------


def test_list_filters_by_tag_and_channel(as_alice, members):
    mine, theirs = members
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味"), name="黑巧")
    MemberTag.objects.create(member=mine[0], tag=tag)
    MemberTag.objects.create(member=theirs[0], tag=tag)
    Identity.objects.create(member=theirs[0], channel="wecom", external_id="wm1")
    by_tag = as_alice.get("/api/v1/members/", {"tag": tag.pk}).json()["results"]
    assert {m["id"] for m in by_tag} == {mine[0].pk, theirs[0].pk}
    both = as_alice.get("/api/v1/members/", {"tag": tag.pk, "channel": "wecom"}).json()["results"]
    assert [m["id"] for m in both] == [theirs[0].pk]


def test_store_staff_list_and_search_stay_in_their_store(as_carol, members):
    mine, theirs = members
    listed = {m["id"] for m in as_carol.get("/api/v1/members/").json()["results"]}
    assert listed == {m.pk for m in mine}
    assert post(as_carol, "/api/v1/members/search/", {"q": theirs[0].phone}).json()["results"] == []
    assert_error(as_carol.get(f"/api/v1/members/{theirs[0].pk}/"), 404, "not_found")


def test_detail_has_identities_tags_consents_relations_and_notes_count(
    as_alice, alice, carol, members, django_assert_max_num_queries
):
    member = members[0][0]
    Identity.objects.create(member=member, channel="wecom", external_id="wm1")
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味"), name="黑巧")
    MemberTag.objects.create(member=member, tag=tag, added_by=carol)
    consent.set_consent(member=member, purpose="marketing", channel="wecom", granted=True, actor=alice)
    relations.add_relation(member=member, staff=carol, actor=alice, is_owner=True, remark="王姐")
    notes.add_note(member=member, body="对坚果过敏", actor=carol)
    with django_assert_max_num_queries(9):
        body = as_alice.get(f"/api/v1/members/{member.pk}/").json()
    assert body["identities"][0]["channel"] == "wecom"
    assert body["tags"] == [{"tag": tag.pk, "name": "黑巧", "group": tag.group_id, "group_name": "口味",
                             "source": "manual", "added_by": "carol", "added_by_label": "",
                             "added_at": body["tags"][0]["added_at"]}]
    assert body["consents"][0]["channel"] == "wecom" and body["consents"][0]["granted"] is True
    assert body["relations"][0]["staff"] == "carol" and body["relations"][0]["is_owner"] is True
    assert body["notes_count"] == 1 and body["attributes"] == {}


def test_merged_and_erased_members_are_not_listed_or_shown(as_alice, members):
    a, b, c = members[0]
    Member.objects.filter(pk=b.pk).update(merged_into=a)
    Member.objects.filter(pk=c.pk).update(erased_at="2026-01-01T00:00:00Z")
    assert {m["id"] for m in as_alice.get("/api/v1/members/", {"store": a.home_store_id}).json()["results"]} == {a.pk}
    assert_error(as_alice.get(f"/api/v1/members/{b.pk}/"), 404)


# --- create and edit ------------------------------------------------------------------------------------


def test_create_member(as_carol, store_a):
    response = post(as_carol, "/api/v1/members/", {"name": "王芳", "phone": "138 0013 8000",
                                                   "identities": [{"channel": "wecom", "external_id": "wm1"}]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phone"] == "+86 138****8000" and body["home_store"] == "SH01"  # a clerk reads it masked
    assert Member.objects.get(pk=body["id"]).phone == "+8613800138000"
    assert {i["channel"] for i in body["identities"]} == {"wecom", "phone"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "phone": "12345"}, "phone"),
        ({"name": "x", "birthday": "01/02/1990"}, "birthday"),
        ({"name": "x", "gender": "female"}, "gender"),
        ({"name": "x", "home_store": "BJ01"}, "home_store"),
        ({"name": "x", "nickname": "x"}, "nickname"),
        ({"name": "x", "attributes": {"shoe": 38}}, "attributes"),
        ({"name": "x", "tags": [987654]}, "tags"),
        ({"name": "x", "identities": [{"channel": "icq", "external_id": "1"}]}, "identities"),
    ],
)
def test_create_with_bad_input_names_the_field_and_writes_nothing(as_carol, stores, payload, field):
    error = assert_error(post(as_carol, "/api/v1/members/", payload), 400, "validation_error")
    assert field in error["details"], error
    assert not Member.objects.exists()


def test_non_object_body_is_a_clear_error(as_alice, db):
    assert_error(post(as_alice, "/api/v1/members/", [1, 2]), 400, "validation_error")
    assert_error(as_alice.post("/api/v1/members/", "{oops", content_type="application/json"), 400, "parse_error")


def test_patch_profile(as_carol, members):
    member = members[0][0]
    response = patch(as_carol, f"/api/v1/members/{member.pk}/", {"stage": "act", "birthday": "1990-05-01"})
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "act"
    error = assert_error(patch(as_carol, f"/api/v1/members/{member.pk}/", {"birthday": "1990-02-30"}), 400)
    assert list(error["details"]) == ["birthday"]
    assert_error(patch(as_carol, f"/api/v1/members/{members[1][0].pk}/", {"stage": "act"}), 404)
    assert Member.objects.get(pk=members[1][0].pk).stage == "aware"


def test_patch_to_a_phone_another_member_holds_is_409(as_alice, alice, members):
    a, b = members[0][0], members[0][1]
    patch(as_alice, f"/api/v1/members/{b.pk}/", {"phone": "13912345678"})
    error = assert_error(patch(as_alice, f"/api/v1/members/{a.pk}/", {"phone": "13912345678"}), 409,
                         "identity_conflict")
    assert error["details"]["members"] == [b.pk]


def test_delete_is_not_offered_erase_is(as_alice, members):
    assert_error(as_alice.delete(f"/api/v1/members/{members[0][0].pk}/"), 405)


# --- upsert --------------------------------------------------------------------------------------------


def test_upsert_creates_then_updates(as_alice, store_a):
    payload = {"identities": [{"channel": "miniprogram", "namespace": "wxapp", "external_id": "oM1"}],
               "name": "王芳", "home_store": "SH01"}
    first = post(as_alice, "/api/v1/members/upsert/", payload)
    assert first.status_code == 201 and first.json()["created"] is True
    payload["stage"] = "ask"
    second = post(as_alice, "/api/v1/members/upsert/", payload)
    assert second.status_code == 200 and second.json()["created"] is False
    assert second.json()["member"]["id"] == first.json()["member"]["id"]
    assert second.json()["member"]["stage"] == "ask"


def test_upsert_conflict_is_409_naming_identities_and_members(as_alice, alice, store_a):
    a = post(as_alice, "/api/v1/members/upsert/", {"identities": [{"channel": "wecom", "external_id": "w1"}]})
    b = post(as_alice, "/api/v1/members/upsert/",
             {"identities": [{"channel": "wechat_unionid", "external_id": "u1"}]})
    both = {"identities": [{"channel": "wecom", "external_id": "w1"},
                           {"channel": "wechat_unionid", "external_id": "u1"}], "name": "?"}
    error = assert_error(post(as_alice, "/api/v1/members/upsert/", both), 409, "identity_conflict")
    assert error["details"]["members"] == sorted([a.json()["member"]["id"], b.json()["member"]["id"]])
    assert {i["label"] for i in error["details"]["identities"]} == {"wecom:w1", "wechat_unionid:u1"}


def test_upsert_needs_members_write(key_client, store_a):
    client = key_client(scopes=["members:read"])
    response = post(client, "/api/v1/members/upsert/", {"identities": [{"channel": "pos", "external_id": "1"}]})
    assert_error(response, 403, "permission_denied")


def test_store_bound_key_upserts_into_its_store_only(key_client, store_a, members):
    client = key_client(scopes=["members:write", "members:read"], store=store_a)
    ok = post(client, "/api/v1/members/upsert/", {"identities": [{"channel": "pos", "external_id": "C1"}]})
    assert ok.status_code == 201 and ok.json()["member"]["home_store"] == "SH01"
    theirs = members[1][0]
    Identity.objects.create(member=theirs, channel="pos", external_id="C2")
    error = assert_error(post(client, "/api/v1/members/upsert/",
                              {"identities": [{"channel": "pos", "external_id": "C2"}], "name": "改"}), 409)
    assert str(theirs.pk) not in str(error["details"])
    assert_error(post(client, "/api/v1/members/upsert/",
                      {"identities": [{"channel": "pos", "external_id": "C3"}], "home_store": "BJ01"}), 400)


# --- bulk upsert -------------------------------------------------------------------------------------


def _items(n):
    return [{"identities": [{"channel": "pos", "namespace": "SH01", "external_id": f"card{i}"}], "name": f"会员{i}",
             "phone": f"+86137{i:08d}"} for i in range(n)]


def test_bulk_upsert(as_alice, store_a, django_assert_max_num_queries):
    with django_assert_max_num_queries(25):
        response = post(as_alice, "/api/v1/members/bulk-upsert/", {"items": _items(300)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"]) == (300, 0)
    assert body["results"][3]["index"] == 3 and body["results"][3]["created"] is True
    again = post(as_alice, "/api/v1/members/bulk-upsert/", {"items": _items(310)}).json()
    assert (again["created"], again["updated"]) == (10, 300)


def test_bulk_upsert_invalid_item_writes_nothing(as_alice, store_a):
    items = _items(6)
    items[3]["phone"] = "not a phone"
    error = assert_error(post(as_alice, "/api/v1/members/bulk-upsert/", {"items": items}), 400, "validation_error")
    assert list(error["details"]["items"]) == ["3"]
    assert list(error["details"]["items"]["3"]) == ["phone"]
    assert not Member.objects.exists()


def test_bulk_upsert_duplicate_identity_names_both_items(as_alice, store_a):
    items = _items(6)
    items[5]["identities"] = items[2]["identities"]
    error = assert_error(post(as_alice, "/api/v1/members/bulk-upsert/", {"items": items}), 400)
    assert set(error["details"]["items"]) == {"2", "5"}
    assert not Member.objects.exists()


def test_bulk_upsert_too_many_or_no_items(as_alice, db):
    assert_error(post(as_alice, "/api/v1/members/bulk-upsert/", {"items": _items(1001)}), 400)
    assert_error(post(as_alice, "/api/v1/members/bulk-upsert/", {"items": []}), 400)
    assert_error(post(as_alice, "/api/v1/members/bulk-upsert/", {}), 400)


# --- merge, duplicates ------------------------------------------------------------------------------


def test_merge_endpoint(as_alice, members):
    a, b, _ = members[0]
    Member.objects.filter(pk=b.pk).update(phone=a.phone)
    candidates = as_alice.get("/api/v1/members/duplicates/").json()
    assert candidates == [{"rule": "same_phone", "key": "+86 138****0000", "survivor": a.pk, "duplicates": [b.pk]}]
    response = post(as_alice, f"/api/v1/members/{a.pk}/merge/", {"duplicate": b.pk, "reason": "same_phone"})
    assert response.status_code == 200, response.content
    assert response.json()["merged"] == b.pk and response.json()["merged_by"] == "alice"
    assert Member.objects.get(pk=b.pk).merged_into_id == a.pk
    error = assert_error(post(as_alice, f"/api/v1/members/{a.pk}/merge/", {"duplicate": b.pk}), 400)
    assert "duplicate" in error["details"]
    assert_error(post(as_alice, f"/api/v1/members/{a.pk}/merge/", {"duplicate": "x"}), 400)
    assert_error(post(as_alice, f"/api/v1/members/{a.pk}/merge/", {"duplicate": 99_999_999}), 404)


def test_store_roles_cannot_merge(as_carol, bob, members):
    a, b, _ = members[0]
    assert_error(post(as_carol, f"/api/v1/members/{a.pk}/merge/", {"duplicate": b.pk}), 403)
    assert_error(post(client_for(bob), f"/api/v1/members/{a.pk}/merge/", {"duplicate": b.pk}), 403)
    assert_error(as_carol.get("/api/v1/members/duplicates/"), 403)
    assert not MemberMerge.objects.exists()


def test_store_bound_key_merges_only_within_its_store(key_client, store_a, members):
    client = key_client(scopes=["merges:write"], store=store_a)
    error = assert_error(post(client, f"/api/v1/members/{members[0][0].pk}/merge/",
                              {"duplicate": members[1][0].pk}), 404)
    assert "duplicate" in error["details"]


# --- export, erase -----------------------------------------------------------------------------------


def test_export_and_erase_by_an_operator(as_alice, alice, carol, members):
    member = members[0][0]
    notes.add_note(member=member, body="喜欢黑巧", actor=carol)
    data = as_alice.get(f"/api/v1/members/{member.pk}/export/").json()
    assert data["member"]["phone"] == member.phone and data["notes"][0]["body"] == "喜欢黑巧"
    assert AuditLog.objects.filter(action="member.export", user=alice).exists()
    assert post(as_alice, f"/api/v1/members/{member.pk}/erase/", {"reason": "ticket 7"}).status_code == 204
    member.refresh_from_db()
    assert member.erased_at and member.name == "" and not ServiceNote.objects.filter(member=member).exists()
    assert AuditLog.objects.get(action="member.erase").detail["reason"] == "ticket 7"
    assert_error(as_alice.get(f"/api/v1/members/{member.pk}/"), 404)


def test_store_roles_cannot_export_or_erase(as_carol, members):
    member = members[0][0]
    assert_error(as_carol.get(f"/api/v1/members/{member.pk}/export/"), 403)
    assert_error(post(as_carol, f"/api/v1/members/{member.pk}/erase/", {}), 403)
    assert Member.live.filter(pk=member.pk).exists()
    assert not AuditLog.objects.exists()


def test_store_bound_privacy_key_cannot_reach_another_store(key_client, store_a, members):
    client = key_client(scopes=["privacy:read", "privacy:write"], store=store_a)
    assert_error(client.get(f"/api/v1/members/{members[1][0].pk}/export/"), 404)
    assert_error(post(client, f"/api/v1/members/{members[1][0].pk}/erase/", {}), 404)
    assert client.get(f"/api/v1/members/{members[0][0].pk}/export/").status_code == 200


# --- attributes -----------------------------------------------------------------------------------


def test_member_attributes_get_and_patch(as_carol, members, db):
    AttributeDefinition.objects.create(code="dialect", label="方言", type="choice", choices=["粤语", "普通话"])
    AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)
    url = f"/api/v1/members/{members[0][0].pk}/attributes/"
    assert patch(as_carol, url, {"dialect": "粤语"}).json() == {"dialect": "粤语"}
    error = assert_error(patch(as_carol, url, {"dialect": "火星语", "allergy": "坚果", "x": 1}), 400)
    assert set(error["details"]["attributes"]) == {"dialect", "x"}
    error = assert_error(patch(as_carol, url, {"allergy": "坚果"}), 400)
    assert list(error["details"]["attributes"]) == ["allergy"]
    assert as_carol.get(url).json() == {"dialect": "粤语"}
    assert_error(patch(as_carol, f"/api/v1/members/{members[1][0].pk}/attributes/", {"dialect": "粤语"}), 404)


def test_openapi_documents_the_member_centre(api_client, db):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in ("/api/v1/members/upsert/", "/api/v1/members/bulk-upsert/", "/api/v1/members/{id}/merge/",
                 "/api/v1/members/{id}/export/", "/api/v1/members/{id}/erase/", "/api/v1/members/{id}/attributes/",
                 "/api/v1/members/{member_id}/identities/", "/api/v1/members/{member_id}/tags/",
                 "/api/v1/members/{member_id}/notes/", "/api/v1/members/{member_id}/relations/",
                 "/api/v1/members/{member_id}/consents/", "/api/v1/members/{member_id}/events/",
                 "/api/v1/identities/", "/api/v1/tag-groups/", "/api/v1/tags/", "/api/v1/tags/{id}/members/",
                 "/api/v1/attributes/", "/api/v1/members/duplicates/"):
        assert path in paths, path
    upsert = paths["/api/v1/members/upsert/"]["post"]
    assert {"200", "201", "400", "409"} <= set(upsert["responses"])


def test_a_body_over_the_upload_limit_is_413(as_alice, store_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    error = assert_error(post(as_alice, "/api/v1/members/bulk-upsert/", {"items": _items(200)}), 413,
                         "payload_too_large")
    assert error["details"]["limit_bytes"] == 10_000
    assert not Member.objects.exists()
