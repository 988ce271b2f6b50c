"""API for the parts of a profile: tag groups, tags and bulk tagging, attribute definitions,
identities, tags on one member, notes, relations, consents and the timeline."""

from __future__ import annotations

import pytest

from members.models import AttributeDefinition, Identity, MemberTag, StaffRelation, Tag, TagGroup
from tests.members.test_api_members import assert_error, client_for, patch, post


@pytest.fixture
def as_alice(alice):
    return client_for(alice)


@pytest.fixture
def as_carol(carol):
    return client_for(carol)


@pytest.fixture
def taste(db):
    group = TagGroup.objects.create(name="口味")
    return {name: Tag.objects.create(group=group, name=name) for name in ("黑巧", "白巧")}


# --- tag groups and tags -----------------------------------------------------------------------------


def test_operators_define_tags_store_roles_read_them(as_alice, as_carol, db):
    group = post(as_alice, "/api/v1/tag-groups/", {"name": "价格", "multiple": False})
    assert group.status_code == 201, group.content
    tag = post(as_alice, "/api/v1/tags/", {"group": group.json()["id"], "name": "高"})
    assert tag.status_code == 201 and tag.json()["is_rule"] is False and tag.json()["group_name"] == "价格"
    assert [t["name"] for t in as_carol.get("/api/v1/tags/").json()["results"]] == ["高"]
    assert as_carol.get("/api/v1/tag-groups/").json()["results"][0]["multiple"] is False
    assert_error(post(as_carol, "/api/v1/tag-groups/", {"name": "x"}), 403)
    assert_error(post(as_carol, "/api/v1/tags/", {"group": group.json()["id"], "name": "低"}), 403)
    assert_error(patch(as_carol, f"/api/v1/tags/{tag.json()['id']}/", {"name": "x"}), 403)


def test_tag_errors(as_alice, taste):
    group_id = taste["黑巧"].group_id
    error = assert_error(post(as_alice, "/api/v1/tags/", {"group": group_id, "name": "黑巧"}), 400)
    assert error["details"]
    assert_error(post(as_alice, "/api/v1/tags/", {"group": 424242, "name": "x"}), 400)
    assert_error(as_alice.delete(f"/api/v1/tag-groups/{group_id}/"), 409, "group_not_empty")
    assert_error(as_alice.get("/api/v1/tags/424242/"), 404)


def test_store_bound_key_cannot_change_the_vocabulary(key_client, store_a, taste):
    from scrm.models import ApiKey

    client = key_client(scopes=["tags:read"], store=store_a)
    ApiKey.objects.filter(store=store_a).update(scopes=["tags:read", "tags:write"])  # held before it was refused
    assert_error(post(client, "/api/v1/tag-groups/", {"name": "x"}), 403)


def test_rule_is_read_only_through_this_api(as_alice, taste):
    response = post(as_alice, "/api/v1/tags/", {"group": taste["黑巧"].group_id, "name": "规则", "rule": {"a": 1}})
    assert response.status_code == 201 and response.json()["rule"] is None


def test_bulk_tag_and_untag(as_carol, carol, members, taste, django_assert_max_num_queries):
    ids = [m.pk for m in members[0]]
    url = f"/api/v1/tags/{taste['黑巧'].pk}/members/"
    with django_assert_max_num_queries(10):
        response = post(as_carol, url, {"members": ids})
    assert response.json() == {"tag": taste["黑巧"].pk, "changed": 3, "replaced": 0}
    row = MemberTag.objects.filter(tag=taste["黑巧"]).first()
    assert row.added_by == carol and row.source == "bulk"
    gone = as_carol.delete(url, {"members": ids[:1]}, format="json")
    assert gone.json()["changed"] == 1
    assert MemberTag.objects.filter(tag=taste["黑巧"]).count() == 2


def test_bulk_tag_another_stores_members_is_404_listing_them(as_carol, members, taste):
    mine, theirs = members
    url = f"/api/v1/tags/{taste['黑巧'].pk}/members/"
    error = assert_error(post(as_carol, url, {"members": [mine[0].pk, theirs[0].pk, theirs[1].pk]}), 404, "not_found")
    assert error["details"]["members"] == [theirs[0].pk, theirs[1].pk]
    assert not MemberTag.objects.exists()


def test_bulk_tag_with_a_store_bound_key(key_client, store_a, members, taste):
    client = key_client(scopes=["members:write"], store=store_a)
    url = f"/api/v1/tags/{taste['黑巧'].pk}/members/"
    assert_error(post(client, url, {"members": [members[1][0].pk]}), 404)
    assert post(client, url, {"members": [members[0][0].pk]}).json()["changed"] == 1


def test_bulk_tag_bad_input(as_alice, members, taste):
    rule = Tag.objects.create(group=taste["黑巧"].group, name="高价值", rule={"tags": {"any": [taste["黑巧"].pk]}})
    ids = [members[0][0].pk]
    assert_error(post(as_alice, f"/api/v1/tags/{rule.pk}/members/", {"members": ids}), 400, "rule_tag")
    assert_error(post(as_alice, "/api/v1/tags/424242/members/", {"members": ids}), 404)
    error = assert_error(post(as_alice, f"/api/v1/tags/{taste['黑巧'].pk}/members/", {"members": "1,2"}), 400)
    assert "members" in error["details"]
    assert_error(post(as_alice, f"/api/v1/tags/{taste['黑巧'].pk}/members/", {"members": [True]}), 400)


def test_bulk_tag_needs_members_write_not_tags_write(key_client, members, taste):
    client = key_client(scopes=["tags:write", "members:read"])
    assert_error(post(client, f"/api/v1/tags/{taste['黑巧'].pk}/members/", {"members": [members[0][0].pk]}), 403)


# --- attribute definitions -------------------------------------------------------------------------


def test_attribute_definitions_crud(as_alice, as_carol, members):
    created = post(as_alice, "/api/v1/attributes/", {"code": "milk_brand", "label": "奶粉品牌", "type": "choice",
                                                     "choices": ["A", "B"]})
    assert created.status_code == 201, created.content
    assert as_carol.get("/api/v1/attributes/").json()["results"][0]["code"] == "milk_brand"
    assert_error(post(as_carol, "/api/v1/attributes/", {"code": "x", "label": "x", "type": "text"}), 403)
    error = assert_error(post(as_alice, "/api/v1/attributes/", {"code": "milk_brand", "label": "x", "type": "text"}),
                         400)
    assert "code" in error["details"]
    error = assert_error(post(as_alice, "/api/v1/attributes/", {"code": "y", "label": "y", "type": "choice"}), 400)
    assert "choices" in error["details"]
    patch(as_alice, f"/api/v1/members/{members[0][0].pk}/attributes/", {"milk_brand": "A"})
    error = assert_error(patch(as_alice, "/api/v1/attributes/milk_brand/", {"choices": ["B"]}), 400)
    assert "choices" in error["details"]
    assert_error(as_alice.delete("/api/v1/attributes/milk_brand/"), 409, "attribute_in_use")
    assert patch(as_alice, "/api/v1/attributes/milk_brand/", {"is_active": False}).json()["is_active"] is False
    assert AttributeDefinition.objects.get(code="milk_brand").is_active is False


# --- identities ----------------------------------------------------------------------------------------


def test_member_identities(as_carol, members):
    member, other = members[0][0], members[0][1]
    url = f"/api/v1/members/{member.pk}/identities/"
    added = post(as_carol, url, {"channel": "douyin", "external_id": "dy1"})
    assert added.status_code == 201, added.content
    error = assert_error(post(as_carol, f"/api/v1/members/{other.pk}/identities/",
                              {"channel": "douyin", "external_id": "dy1"}), 409, "identity_conflict")
    assert error["details"]["identities"][0]["member"] == member.pk
    assert_error(post(as_carol, url, {"channel": "douyin"}), 400)
    assert [i["external_id"] for i in as_carol.get(url).json()["results"]] == ["dy1"]
    assert as_carol.delete(f"{url}{added.json()['id']}/").status_code == 204
    assert not Identity.objects.exists()
    assert_error(as_carol.get(f"/api/v1/members/{members[1][0].pk}/identities/"), 404)


def test_identity_lookup_is_scoped(as_carol, as_alice, members):
    Identity.objects.create(member=members[1][0], channel="wecom", external_id="wmB")
    assert as_carol.get("/api/v1/identities/", {"channel": "wecom", "external_id": "wmB"}).json()["results"] == []
    found = as_alice.get("/api/v1/identities/", {"channel": "wecom", "external_id": "wmB"}).json()["results"]
    assert [i["member"] for i in found] == [members[1][0].pk]


# --- tags on one member ----------------------------------------------------------------------------


def test_member_tags(as_carol, members, taste):
    member = members[0][0]
    url = f"/api/v1/members/{member.pk}/tags/"
    body = post(as_carol, url, {"tags": [taste["黑巧"].pk, taste["白巧"].pk]}).json()
    assert {t["name"] for t in body} == {"黑巧", "白巧"} and body[0]["added_by"] == "carol"
    error = assert_error(post(as_carol, url, {"tags": [999_999]}), 400)
    assert "999999" in error["details"]["tags"][0]
    assert as_carol.delete(f"{url}{taste['白巧'].pk}/").status_code == 204
    assert [t["name"] for t in as_carol.get(url).json()["results"]] == ["黑巧"]
    assert_error(post(as_carol, f"/api/v1/members/{members[1][0].pk}/tags/", {"tags": [taste["黑巧"].pk]}), 404)


def test_member_tags_by_key_are_marked_api(key_client, members, taste):
    client = key_client(scopes=["members:write"])
    post(client, f"/api/v1/members/{members[0][0].pk}/tags/", {"tags": [taste["黑巧"].pk]})
    row = MemberTag.objects.get()
    assert row.source == "api" and row.added_by is None and row.added_by_label.startswith("API key")


# --- notes, relations, consents, timeline -------------------------------------------------------------


def test_member_notes(as_carol, members):
    url = f"/api/v1/members/{members[0][0].pk}/notes/"
    first = post(as_carol, url, {"body": "喜欢黑巧", "kind": "visit"}).json()
    second = post(as_carol, url, {"body": "对坚果过敏"}).json()
    assert first["author"] == "carol" and first["store"] == "SH01"
    patch(as_carol, f"{url}{first['id']}/", {"pinned": True})
    assert [n["id"] for n in as_carol.get(url).json()["results"]] == [first["id"], second["id"]]
    error = assert_error(post(as_carol, url, {"body": "", "kind": "rumour"}), 400)
    assert set(error["details"]) == {"body", "kind"}


def test_member_relations(as_carol, carol, dave, members):
    member = members[0][0]
    url = f"/api/v1/members/{member.pk}/relations/"
    created = post(as_carol, url, {"staff": "carol", "add_way": "qr", "state": "SH01-spring", "remark": "王姐"})
    assert created.status_code == 201, created.content
    relation = created.json()
    assert (relation["add_way"], relation["state"], relation["is_owner"]) == ("qr", "SH01-spring", False)
    owner = patch(as_carol, f"{url}{relation['id']}/", {"is_owner": True, "remark": "王姐-VIP"}).json()
    assert owner["is_owner"] and owner["remark"] == "王姐-VIP"
    member.refresh_from_db()
    assert member.owner == carol
    churn = patch(as_carol, f"{url}{relation['id']}/", {"deleted_by": "member"}).json()
    assert churn["member_deleted_at"] and churn["is_active"] is False and churn["is_owner"] is False
    assert_error(post(as_carol, url, {"staff": "dave"}), 400)
    assert_error(post(as_carol, url, {"staff": "carol", "add_way": "telepathy"}), 400)
    assert_error(patch(as_carol, f"{url}{relation['id']}/", {"deleted_by": "nobody"}), 400)
    assert StaffRelation.objects.count() == 1


def test_member_consents_and_history(as_carol, members):
    member = members[0][0]
    url = f"/api/v1/members/{member.pk}/consents/"
    granted = post(as_carol, url, {"purpose": "marketing", "channel": "wecom", "granted": True, "source": "store",
                                   "evidence": "扫码登记"})
    assert granted.status_code == 201 and granted.json()["granted"] is True
    post(as_carol, url, {"purpose": "marketing", "channel": "wecom", "granted": False, "source": "wecom"})
    current = as_carol.get(url).json()["results"]
    assert current == [
        {"purpose": "marketing", "channel": "wecom", "granted": False, "updated_at": current[0]["updated_at"]}
    ]
    history = as_carol.get(f"/api/v1/members/{member.pk}/consent-records/").json()["results"]
    assert [(r["granted"], r["recorded_by"]) for r in history] == [(False, "carol"), (True, "carol")]
    error = assert_error(post(as_carol, url, {"purpose": "gossip", "granted": "yes"}), 400)
    assert set(error["details"]) == {"purpose", "granted"}
    events = as_carol.get(f"/api/v1/members/{member.pk}/events/").json()["results"]
    assert [e["kind"] for e in events] == ["consent", "consent"] and events[0]["actor"] == "carol"


# --- query counts -----------------------------------------------------------------------------------


def test_tag_list_does_not_query_per_row(as_carol, db, django_assert_max_num_queries):
    groups = [TagGroup.objects.create(name=f"组{i}") for i in range(5)]
    Tag.objects.bulk_create(Tag(group=groups[i % 5], name=f"标签{i}") for i in range(30))
    with django_assert_max_num_queries(4):
        body = as_carol.get("/api/v1/tags/").json()
    assert len(body["results"]) == 30


def test_timeline_and_notes_do_not_query_per_row(as_alice, alice, carol, bob, members,
                                                 django_assert_max_num_queries):
    from members.models import MemberEvent
    from members.services import notes

    member = members[0][0]
    MemberEvent.objects.bulk_create(MemberEvent(member=member, kind="updated", actor=[alice, carol, bob][i % 3])
                                    for i in range(30))
    for i in range(10):
        notes.add_note(member=member, body=f"第{i}条", actor=[carol, bob][i % 2])
    with django_assert_max_num_queries(5):
        events = as_alice.get(f"/api/v1/members/{member.pk}/events/").json()["results"]
    assert len(events) == 30 and {e["actor"] for e in events} == {"alice", "carol", "bob"}
    with django_assert_max_num_queries(5):
        assert len(as_alice.get(f"/api/v1/members/{member.pk}/notes/").json()["results"]) == 10


def test_identity_lookup_by_phone_in_any_form(as_alice, members):
    Identity.objects.create(member=members[0][0], channel="phone", external_id="+8613800138000")
    refused = as_alice.get("/api/v1/identities/", {"channel": "phone", "external_id": "138 0013 8000"})
    assert refused.status_code == 400 and "/api/v1/members/search/" in refused.json()["error"]["message"]
    found = as_alice.post("/api/v1/members/search/", {"q": "138 0013 8000"}, format="json").json()
    assert [m["id"] for m in found["results"]] == [members[0][0].pk]
    wecom = as_alice.get("/api/v1/identities/", {"channel": "wecom", "external_id": "wm1"})
    assert wecom.status_code == 200  # platform ids are not phones
