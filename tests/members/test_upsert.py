"""Upsert by identity: one member per person, whatever order and concurrency the identities come in;
bad input names the field or item and writes nothing."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from members.errors import IdentityConflict
from members.models import AttributeDefinition, Identity, Member, MemberEvent, MemberTag, StaffRelation, Tag, TagGroup
from members.services import upsert
from scrm.errors import InvalidInput

WECOM = {"channel": "wecom", "external_id": "wmAAA"}
UNIONID = {"channel": "wechat_unionid", "external_id": "oU-1"}


@pytest.fixture
def dialect(db):
    return AttributeDefinition.objects.create(code="dialect", label="方言", type="choice", choices=["粤语", "普通话"])


@pytest.fixture
def allergy(db):
    return AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)


@pytest.fixture
def taste(db):
    group = TagGroup.objects.create(name="口味")
    return {name: Tag.objects.create(group=group, name=name) for name in ("黑巧", "白巧")}


@pytest.fixture
def price(db):
    group = TagGroup.objects.create(name="价格敏感度", multiple=False)
    return {name: Tag.objects.create(group=group, name=name) for name in ("高", "低")}


def test_first_upsert_creates_member_with_identities_and_event(alice, store_a):
    result = upsert.upsert_member(
        identities=[WECOM], profile={"name": "王芳", "phone": "138 0013 8000", "home_store": "SH01"}, actor=alice
    )
    assert result.created
    member = Member.objects.get(pk=result.member_id)
    assert (member.name, member.phone, member.home_store) == ("王芳", "+8613800138000", store_a)
    assert {str(i) for i in member.identities.all()} == {"wecom:wmAAA", "phone:+8613800138000"}
    created = MemberEvent.objects.get(member=member, kind=MemberEvent.Kind.CREATED)
    assert created.actor == alice
    assert set(created.data["identities"]) == {"wecom:wmAAA", "phone:+8613800138000"}


def test_second_upsert_by_any_identity_updates_the_same_member(alice, store_a):
    first = upsert.upsert_member(identities=[WECOM], profile={"name": "王芳", "phone": "13800138000"}, actor=alice)
    second = upsert.upsert_member(
        identities=[{"channel": "phone", "external_id": "+86 138-0013-8000"}, UNIONID],
        profile={"stage": "act", "birthday": "1990-05-01"}, actor=alice,
    )
    assert not second.created
    assert second.member_id == first.member_id
    assert second.changed == ("birthday", "stage")
    assert second.identities_added == ("wechat_unionid:oU-1",)
    assert Member.objects.count() == 1
    member = Member.objects.get()
    assert member.stage == "act" and str(member.birthday) == "1990-05-01" and member.name == "王芳"
    update = MemberEvent.objects.get(member=member, kind=MemberEvent.Kind.UPDATED)
    assert update.data["changes"]["stage"] == ["aware", "act"]
    assert MemberEvent.objects.filter(member=member, kind=MemberEvent.Kind.IDENTITY_ADDED).count() == 1


def test_upsert_with_nothing_new_writes_no_event(alice):
    upsert.upsert_member(identities=[WECOM], profile={"name": "王芳"}, actor=alice)
    again = upsert.upsert_member(identities=[WECOM], profile={"name": "王芳"}, actor=alice)
    assert again.changed == () and again.identities_added == ()
    assert MemberEvent.objects.count() == 1


def test_identities_of_two_members_are_a_conflict_naming_both(alice):
    a = upsert.upsert_member(identities=[WECOM], actor=alice).member_id
    b = upsert.upsert_member(identities=[UNIONID], actor=alice).member_id
    with pytest.raises(IdentityConflict) as caught:
        upsert.upsert_member(identities=[WECOM, UNIONID], profile={"name": "x"}, actor=alice)
    assert caught.value.code == "identity_conflict"
    assert caught.value.status == 409
    assert caught.value.details["members"] == sorted([a, b])
    assert {d["label"] for d in caught.value.details["identities"]} == {"wecom:wmAAA", "wechat_unionid:oU-1"}
    assert set(Member.objects.values_list("name", flat=True)) == {""}


def test_phone_is_recorded_as_an_identity_and_finds_the_member(alice):
    first = upsert.upsert_member(identities=[WECOM], profile={"phone": "+8613800138000"}, actor=alice)
    found = upsert.upsert_member(identities=[UNIONID], profile={"phone": "0086 138 0013 8000"}, actor=alice)
    assert found.member_id == first.member_id
    assert Identity.objects.filter(channel="phone", external_id="+8613800138000").count() == 1


@pytest.mark.parametrize(
    ("identities", "profile", "field"),
    [
        ([WECOM], {"phone": "12345"}, "phone"),
        ([WECOM], {"gender": "x"}, "gender"),
        ([WECOM], {"birthday": "1990-13-01"}, "birthday"),
        ([WECOM], {"birthday": "2999-01-01"}, "birthday"),
        ([WECOM], {"home_store": "NOWHERE"}, "home_store"),
        ([WECOM], {"owner": "nobody"}, "owner"),
        ([WECOM], {"stage": "loyal"}, "stage"),
        ([WECOM], {"name": "x" * 65}, "name"),
        ([WECOM], {"favourite": "x"}, "favourite"),
        ([{"channel": "myspace", "external_id": "1"}], {}, "identities"),
        ([{"channel": "wecom"}], {}, "identities"),
        ([{"channel": "wechat_unionid", "namespace": "app", "external_id": "1"}], {}, "identities"),
        ([{"channel": "phone", "external_id": "abc"}], {}, "identities"),
        ([], {"name": "x"}, "identities"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(alice, stores, identities, profile, field):
    with pytest.raises(InvalidInput) as caught:
        upsert.upsert_member(identities=identities, profile=profile, actor=alice)
    assert field in caught.value.details, caught.value.details
    assert Member.objects.count() == 0 and Identity.objects.count() == 0


def test_bad_identity_names_its_index_and_field(alice):
    with pytest.raises(InvalidInput) as caught:
        upsert.upsert_member(identities=[WECOM, {"channel": "tmall", "external_id": ""}], actor=alice)
    assert list(caught.value.details) == ["identities"]
    assert list(caught.value.details["identities"]) == ["1"]
    assert list(caught.value.details["identities"]["1"]) == ["external_id"]


def test_unknown_tag_and_rule_tag_are_errors(alice, taste):
    rule = Tag.objects.create(group=taste["黑巧"].group, name="高价值", rule={"tags": {"any": [1]}})
    with pytest.raises(InvalidInput) as caught:
        upsert.upsert_member(identities=[WECOM], tags=[taste["黑巧"].pk, 999_999, rule.pk], actor=alice)
    messages = caught.value.details["tags"]
    assert any("999999" in m for m in messages)
    assert any("高价值" in m for m in messages)
    assert Member.objects.count() == 0


def test_tags_are_added_by_api_with_who_and_single_choice_replaces(alice, taste, price):
    member_id = upsert.upsert_member(identities=[WECOM], tags=[taste["黑巧"].pk, price["高"].pk], actor=alice).member_id
    upsert.upsert_member(identities=[WECOM], tags=[price["低"].pk], actor=alice)
    rows = {t.tag.name: t for t in MemberTag.objects.filter(member_id=member_id).select_related("tag")}
    assert set(rows) == {"黑巧", "低"}
    assert rows["黑巧"].source == "api" and rows["黑巧"].added_by == alice


def test_two_tags_of_a_single_choice_group_are_an_error(alice, price):
    with pytest.raises(InvalidInput) as caught:
        upsert.upsert_member(identities=[WECOM], tags=[price["高"].pk, price["低"].pk], actor=alice)
    assert "价格敏感度" in caught.value.details["tags"][0]


def test_attributes_are_typed_and_merged(alice, dialect):
    profile = {"attributes": {"dialect": "粤语"}}
    member_id = upsert.upsert_member(identities=[WECOM], profile=profile, actor=alice).member_id
    with pytest.raises(InvalidInput) as caught:
        upsert.upsert_member(identities=[WECOM], profile={"attributes": {"dialect": "火星语", "shoe": 3}}, actor=alice)
    assert set(caught.value.details["attributes"]) == {"dialect", "shoe"}
    assert Member.objects.get(pk=member_id).attributes == {"dialect": "粤语"}


def test_sensitive_attribute_needs_consent(alice, allergy):
    with pytest.raises(InvalidInput) as caught:
        upsert.upsert_member(identities=[WECOM], profile={"attributes": {"allergy": "坚果"}}, actor=alice)
    assert "allergy" in caught.value.details["attributes"]
    assert Member.objects.count() == 0


def test_owner_gets_an_owner_relation_and_home_store(alice, carol, store_a):
    member_id = upsert.upsert_member(identities=[WECOM], profile={"owner": "carol"}, actor=alice).member_id
    member = Member.objects.get(pk=member_id)
    assert member.owner == carol and member.home_store == store_a
    relation = StaffRelation.objects.get(member=member)
    assert relation.staff == carol and relation.is_owner


def test_owner_from_another_store_is_refused(alice, dave, store_a):
    with pytest.raises(InvalidInput) as caught:
        upsert.upsert_member(identities=[WECOM], profile={"owner": "dave", "home_store": "SH01"}, actor=alice)
    assert "owner" in caught.value.details


# --- store scoping ---------------------------------------------------------------------------------


def test_store_staff_creates_in_their_own_store(carol, store_a):
    member = Member.objects.get(pk=upsert.upsert_member(identities=[WECOM], actor=carol).member_id)
    assert member.home_store == store_a


def test_store_staff_cannot_place_a_member_in_another_store(carol, store_b):
    with pytest.raises(InvalidInput) as caught:
        upsert.upsert_member(identities=[WECOM], profile={"home_store": "BJ01"}, actor=carol)
    assert "home_store" in caught.value.details


def test_store_staff_cannot_update_another_stores_member(carol, dave):
    theirs = upsert.upsert_member(identities=[WECOM], profile={"name": "李"}, actor=dave).member_id
    with pytest.raises(IdentityConflict) as caught:
        upsert.upsert_member(identities=[WECOM], profile={"name": "改名"}, actor=carol)
    assert caught.value.details["reason"] == "other_store"
    assert "members" not in caught.value.details and str(theirs) not in str(caught.value.details)
    assert Member.objects.get(pk=theirs).name == "李"


def test_store_bound_key_is_scoped_like_store_staff(make_key, store_a, store_b, dave):
    from scrm.api.auth import ApiPrincipal
    from scrm.models import ApiKey

    make_key(scopes=["members:write"], store=store_a, name="POS SH01")
    key = ApiPrincipal(ApiKey.objects.get(name="POS SH01"))
    created = upsert.upsert_member(identities=[{"channel": "pos", "external_id": "C1"}], actor=key)
    member = Member.objects.get(pk=created.member_id)
    assert member.home_store == store_a
    assert MemberEvent.objects.get(member=member).actor_label.startswith("API key POS SH01")
    upsert.upsert_member(identities=[WECOM], actor=dave)
    with pytest.raises(IdentityConflict):
        upsert.upsert_member(identities=[WECOM], actor=key)


# --- create and update -------------------------------------------------------------------------------


def test_create_refuses_an_identity_someone_holds(alice):
    holder = upsert.upsert_member(identities=[WECOM], actor=alice).member_id
    with pytest.raises(IdentityConflict) as caught:
        upsert.create_member(profile={"name": "新"}, identities=[WECOM], actor=alice)
    assert caught.value.details["members"] == [holder]


def test_create_without_identities(alice, store_a):
    result = upsert.create_member(profile={"name": "路人", "home_store": "SH01"}, actor=alice)
    assert result.created and Member.objects.get(pk=result.member_id).name == "路人"


def test_update_member_records_changes_and_new_phone_identity(alice, members):
    member = members[0][0]
    updated = upsert.update_member(member=member, profile={"phone": "13912345678", "gender": "f"}, actor=alice)
    assert updated.phone == "+8613912345678" and updated.gender == "f"
    assert Identity.objects.filter(member=member, channel="phone", external_id="+8613912345678").exists()
    event = MemberEvent.objects.get(member=member, kind=MemberEvent.Kind.UPDATED)
    assert event.data["changes"]["gender"] == ["u", "f"]


def test_update_member_to_a_phone_another_member_holds_is_a_conflict(alice, members):
    a, b = members[0][0], members[0][1]
    upsert.update_member(member=b, profile={"phone": "13912345678"}, actor=alice)
    with pytest.raises(IdentityConflict) as caught:
        upsert.update_member(member=a, profile={"phone": "139 1234 5678"}, actor=alice)
    assert caught.value.details["members"] == [b.pk]
    a.refresh_from_db()
    assert a.phone != "+8613912345678"


def test_moving_a_member_to_another_store_drops_the_old_owner(alice, members, store_b):
    member = members[0][0]
    updated = upsert.update_member(member=member, profile={"home_store": "BJ01"}, actor=alice)
    assert updated.home_store == store_b and updated.owner is None


# --- bulk ---------------------------------------------------------------------------------------------


def _items(n, start=0):
    return [
        {"identities": [{"channel": "pos", "namespace": "SH01", "external_id": f"card{i}"}],
         "name": f"会员{i}", "phone": f"+86137{i:08d}", "home_store": "SH01"}
        for i in range(start, start + n)
    ]


def test_bulk_upsert_creates_and_updates_in_a_few_queries(alice, store_a, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        results = upsert.bulk_upsert_members(items=_items(200), actor=alice)
    assert sum(r.created for r in results) == 200
    assert Identity.objects.count() == 400
    items = _items(300, start=100)
    for item in items[:100]:
        item["stage"] = "ask"
    with django_assert_max_num_queries(20):
        results = upsert.bulk_upsert_members(items=items, actor=alice)
    assert sum(r.created for r in results) == 200
    assert Member.objects.count() == 400
    assert Member.objects.filter(stage="ask").count() == 100
    assert MemberEvent.objects.filter(kind="updated").count() == 100


def test_bulk_upsert_with_one_bad_item_writes_nothing(alice, store_a):
    items = _items(5)
    items[3]["phone"] = "123"
    items[1]["gender"] = "?"
    with pytest.raises(InvalidInput) as caught:
        upsert.bulk_upsert_members(items=items, actor=alice)
    assert set(caught.value.details["items"]) == {"1", "3"}
    assert "phone" in caught.value.details["items"]["3"]
    assert Member.objects.count() == 0


def test_bulk_duplicate_identity_names_both_items(alice, store_a):
    items = _items(5)
    items[4]["identities"] = items[1]["identities"]
    with pytest.raises(InvalidInput) as caught:
        upsert.bulk_upsert_members(items=items, actor=alice)
    details = caught.value.details["items"]
    assert set(details) == {"1", "4"}
    assert "4" in details["1"]["identities"][0] and "1" in details["4"]["identities"][0]
    assert Member.objects.count() == 0


def test_bulk_two_items_finding_one_member_is_an_error(alice, store_a):
    upsert.upsert_member(identities=[WECOM, UNIONID], actor=alice)
    with pytest.raises(InvalidInput) as caught:
        upsert.bulk_upsert_members(items=[{"identities": [WECOM]}, {"identities": [UNIONID], "name": "x"}],
                                   actor=alice)
    assert set(caught.value.details["items"]) == {"0", "1"}


def test_bulk_conflict_names_the_item(alice, store_a):
    upsert.upsert_member(identities=[WECOM], actor=alice)
    upsert.upsert_member(identities=[UNIONID], actor=alice)
    with pytest.raises(IdentityConflict) as caught:
        upsert.bulk_upsert_members(items=[*_items(2), {"identities": [WECOM, UNIONID]}], actor=alice)
    assert set(caught.value.details["items"]) == {"2"}
    assert Member.objects.count() == 2


def test_bulk_limits(alice):
    with pytest.raises(InvalidInput):
        upsert.bulk_upsert_members(items=[], actor=alice)
    with pytest.raises(InvalidInput) as caught:
        upsert.bulk_upsert_members(items=[{"identities": [WECOM]}] * 1001, actor=alice)
    assert "1000" in caught.value.details["items"][0]


def test_bulk_unknown_item_field_is_named(alice):
    with pytest.raises(InvalidInput) as caught:
        upsert.bulk_upsert_members(items=[{"identities": [WECOM], "nickname": "x"}], actor=alice)
    assert list(caught.value.details["items"]["0"]) == ["nickname"]


# --- concurrency --------------------------------------------------------------------------------------


def _in_threads(n, work):
    """Run work(i) in n threads at once, each on its own connection; return errors raised."""
    barrier = threading.Barrier(n)
    errors = []

    def run(i):
        try:
            barrier.wait()
            work(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_identity_create_one_member(alice, store_a):
    def work(i):
        upsert.upsert_member(
            identities=[{"channel": "wecom", "external_id": "wm-race"}, {"channel": "pos", "external_id": f"c{i}"}],
            profile={"name": f"线程{i}"}, actor=alice,
        )

    started = time.monotonic()
    assert _in_threads(12, work) == []
    assert Member.objects.count() == 1
    assert Identity.objects.filter(member=Member.objects.get()).count() == 13
    assert time.monotonic() - started < 30


@pytest.mark.django_db(transaction=True)
def test_concurrent_bulk_batches_sharing_identities_create_each_member_once(alice, store_a):
    def work(i):
        upsert.bulk_upsert_members(items=_items(150, start=(i % 3) * 50), actor=alice)

    assert _in_threads(6, work) == []
    assert Member.objects.count() == 250
    assert Identity.objects.filter(channel="pos").count() == 250
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM members_member m WHERE NOT EXISTS "
                       "(SELECT 1 FROM members_identity i WHERE i.member_id = m.id)")
        assert cursor.fetchone()[0] == 0


def test_changing_the_owner_moves_the_owner_relation(alice, carol, bob, members):
    member = members[0][0]  # owned by carol
    upsert.update_member(member=member, profile={"owner": "bob"}, actor=alice)
    updated = upsert.update_member(member=member, profile={"owner": "carol"}, actor=alice)
    assert updated.owner == carol
    owners = {r.staff.username: r.is_owner for r in StaffRelation.objects.filter(member=member)}
    assert owners == {"bob": False, "carol": True}
    cleared = upsert.update_member(member=member, profile={"owner": None}, actor=alice)
    assert cleared.owner is None and not StaffRelation.objects.filter(member=member, is_owner=True).exists()
