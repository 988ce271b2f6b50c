"""Custom attributes (typed values, sensitive ones behind consent) and consent (per purpose and
channel, withdrawal as easy as a grant, honoured by can_message)."""

from __future__ import annotations

import pytest

from members.models import AttributeDefinition, Consent, ConsentRecord, Member, MemberEvent
from members.services import attributes, consent
from scrm.errors import Conflict, Forbidden, InvalidInput


@pytest.fixture
def definitions(db):
    rows = [
        ("kids", "孩子数", "number", []),
        ("first_visit", "首次到店", "date", []),
        ("child_birth_month", "孩子出生年月", "month", []),
        ("vip", "VIP", "boolean", []),
        ("dialect", "方言", "choice", ["粤语", "普通话", "上海话"]),
        ("flavours", "口味", "multi_choice", ["黑巧", "白巧", "牛奶巧"]),
        ("allergy", "过敏", "text", []),
    ]
    made = {code: AttributeDefinition.objects.create(code=code, label=label, type=kind, choices=choices)
            for code, label, kind, choices in rows}
    AttributeDefinition.objects.filter(code="allergy").update(sensitive=True)
    AttributeDefinition.objects.filter(code="child_birth_month").update(sensitive=True, requires_guardian=True)
    return made


GOOD = [
    ("kids", 2, 2), ("kids", "2", 2), ("kids", 1.5, 1.5), ("kids", 3.0, 3),
    ("first_visit", "2024-02-29", "2024-02-29"),
    ("vip", True, True), ("vip", "false", False),
    ("dialect", "粤语", "粤语"),
    ("flavours", ["牛奶巧", "黑巧", "黑巧"], ["黑巧", "牛奶巧"]),
]
BAD = [
    ("kids", "two"), ("kids", True), ("kids", [1]),
    ("first_visit", "2023-02-29"), ("first_visit", "29/02/2024"), ("first_visit", "20240101"),
    ("child_birth_month", "2024-13"), ("child_birth_month", "2024-1"),
    ("vip", "maybe"), ("vip", 1),
    ("dialect", "火星语"), ("dialect", ["粤语"]),
    ("flavours", "黑巧"), ("flavours", ["黑巧", "榴莲"]),
    ("allergy", "x" * 256), ("allergy", 5),
]


@pytest.mark.parametrize(("code", "value", "stored"), GOOD)
def test_values_are_cleaned_by_type(definitions, code, value, stored):
    assert attributes.clean_value(definitions[code], value) == stored


@pytest.mark.parametrize(("code", "value"), BAD)
def test_wrong_type_is_an_error_naming_the_attribute(alice, members, definitions, code, value):
    member = members[0][0]
    with pytest.raises(InvalidInput) as caught:
        attributes.set_attributes(member=member, values={code: value}, actor=alice)
    assert list(caught.value.details["attributes"]) == [code]
    member.refresh_from_db()
    assert member.attributes == {}


def test_unknown_and_inactive_attributes_are_named(alice, members, definitions):
    AttributeDefinition.objects.filter(code="vip").update(is_active=False)
    with pytest.raises(InvalidInput) as caught:
        attributes.set_attributes(member=members[0][0], values={"shoe_size": 38, "vip": True, "kids": 1},
                                  actor=alice)
    assert set(caught.value.details["attributes"]) == {"shoe_size", "vip"}
    assert Member.objects.get(pk=members[0][0].pk).attributes == {}


def test_set_and_remove_attributes_with_timeline(alice, members, definitions):
    member = members[0][0]
    attributes.set_attributes(member=member, values={"dialect": "粤语", "kids": 2}, actor=alice)
    attributes.set_attributes(member=member, values={"kids": None, "vip": True}, actor=alice)
    member.refresh_from_db()
    assert member.attributes == {"dialect": "粤语", "vip": True}
    last = MemberEvent.objects.filter(member=member, kind="updated").first()
    assert last.data["attributes"] == {"kids": [2, None], "vip": [None, True]}


def test_sensitive_attributes_need_consent_and_are_not_copied_to_the_timeline(alice, members, definitions):
    member = members[0][0]
    with pytest.raises(InvalidInput) as caught:
        attributes.set_attributes(member=member, values={"allergy": "坚果"}, actor=alice)
    assert "allergy" in caught.value.details["attributes"]
    consent.set_consent(member=member, purpose="sensitive_data", granted=True, source="store", actor=alice)
    attributes.set_attributes(member=member, values={"allergy": "坚果"}, actor=alice)
    assert Member.objects.get(pk=member.pk).attributes == {"allergy": "坚果"}
    event = MemberEvent.objects.filter(member=member, kind="updated").first()
    assert event.data["attributes"] == {"allergy": {"changed": True}}
    assert "坚果" not in str(event.data)


def test_childs_data_needs_guardian_consent_too(alice, members, definitions):
    member = members[0][0]
    consent.set_consent(member=member, purpose="sensitive_data", granted=True, actor=alice)
    with pytest.raises(InvalidInput) as caught:
        attributes.set_attributes(member=member, values={"child_birth_month": "2021-06"}, actor=alice)
    assert "child_birth_month" in caught.value.details["attributes"]
    consent.set_consent(member=member, purpose="guardian", granted=True, actor=alice)
    attributes.set_attributes(member=member, values={"child_birth_month": "2021-06"}, actor=alice)
    assert Member.objects.get(pk=member.pk).attributes == {"child_birth_month": "2021-06"}


def test_withdrawing_consent_removes_the_values_it_allowed(alice, members, definitions):
    member = members[0][0]
    consent.set_consent(member=member, purpose="sensitive_data", granted=True, actor=alice)
    attributes.set_attributes(member=member, values={"allergy": "坚果", "dialect": "粤语"}, actor=alice)
    consent.set_consent(member=member, purpose="sensitive_data", granted=False, source="mini-program", actor=alice)
    assert Member.objects.get(pk=member.pk).attributes == {"dialect": "粤语"}
    event = MemberEvent.objects.filter(member=member, kind="consent").first()
    assert event.data["attributes_removed"] == ["allergy"]


# --- definitions ---------------------------------------------------------------------------------


def test_definitions_are_for_brand_wide_actors(carol, db):
    with pytest.raises(Forbidden):
        attributes.create_definition(actor=carol, code="x", label="x", type="text")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "choice", "choices": []}, "choices"),
        ({"type": "choice", "choices": ["a", "a"]}, "choices"),
        ({"type": "text", "choices": ["a"]}, "choices"),
        ({"type": "colour"}, "type"),
    ],
)
def test_bad_definitions(alice, fields, field):
    with pytest.raises(InvalidInput) as caught:
        attributes.create_definition(actor=alice, code="x", label="x", **fields)
    assert field in caught.value.details
    assert not AttributeDefinition.objects.exists()


def test_definition_changes_that_would_orphan_values_are_refused(alice, members, definitions):
    attributes.set_attributes(member=members[0][0], values={"dialect": "粤语", "flavours": ["白巧"]}, actor=alice)
    with pytest.raises(InvalidInput) as caught:
        attributes.update_definition(definition=definitions["dialect"], actor=alice, type="text", choices=[])
    assert "type" in caught.value.details
    with pytest.raises(InvalidInput) as caught:
        attributes.update_definition(definition=definitions["dialect"], actor=alice, choices=["普通话"])
    assert "粤语" in caught.value.details["choices"][0]
    with pytest.raises(InvalidInput):
        attributes.update_definition(definition=definitions["flavours"], actor=alice, choices=["黑巧"])
    with pytest.raises(InvalidInput):
        attributes.update_definition(definition=definitions["dialect"], actor=alice, code="lang")
    updated = attributes.update_definition(definition=definitions["dialect"], actor=alice,
                                           choices=["粤语", "闽南语"], label="方言/口音")
    assert updated.choices == ["粤语", "闽南语"]
    with pytest.raises(Conflict):
        attributes.delete_definition(definition=definitions["dialect"], actor=alice)
    attributes.delete_definition(definition=definitions["kids"], actor=alice)
    assert not AttributeDefinition.objects.filter(code="kids").exists()


# --- consent -----------------------------------------------------------------------------------


def test_consent_is_recorded_with_evidence_and_who(alice, members):
    member = members[0][0]
    consent.set_consent(member=member, purpose="marketing", channel="wecom", granted=True, source="store",
                        evidence="paper form #12", actor=alice)
    consent.set_consent(member=member, purpose="marketing", channel="wecom", granted=False, source="wecom",
                        actor=alice)
    assert Consent.objects.get(member=member).granted is False
    records = list(ConsentRecord.objects.filter(member=member).order_by("recorded_at", "id"))
    assert [(r.granted, r.source, r.recorded_by) for r in records] == [(True, "store", alice), (False, "wecom", alice)]
    assert records[0].evidence == "paper form #12"
    assert MemberEvent.objects.filter(member=member, kind="consent").count() == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"purpose": "spam", "granted": True}, "purpose"),
        ({"purpose": "marketing", "channel": "pigeon", "granted": True}, "channel"),
        ({"purpose": "sensitive_data", "channel": "sms", "granted": True}, "channel"),
        ({"purpose": "marketing", "granted": "yes"}, "granted"),
        ({"purpose": "marketing", "granted": True, "evidence": "x" * 256}, "evidence"),
    ],
)
def test_bad_consent_input(alice, members, kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        consent.set_consent(member=members[0][0], actor=alice, **kwargs)
    assert field in caught.value.details
    assert not ConsentRecord.objects.exists()


def _can(members, channel):
    return set(consent.can_message([m.pk for m in members], channel))


def test_can_message_follows_grants_and_withdrawals(alice, members):
    a, b, c = members[0]
    consent.set_consent(member=a, purpose="marketing", channel="all", granted=True, actor=alice)
    consent.set_consent(member=b, purpose="marketing", channel="sms", granted=True, actor=alice)
    consent.set_consent(member=c, purpose="marketing", channel="all", granted=True, actor=alice)
    consent.set_consent(member=c, purpose="marketing", channel="wecom", granted=False, actor=alice)
    assert _can(members[0], "wecom") == {a.pk}
    assert _can(members[0], "sms") == {a.pk, b.pk, c.pk}
    # withdrawing on 'all' stops every channel, including specific grants
    consent.set_consent(member=b, purpose="marketing", channel="all", granted=False, actor=alice)
    assert _can(members[0], "sms") == {a.pk, c.pk}
    assert Consent.objects.get(member=b, channel="sms").granted is False
    # a later grant on one channel opens that channel only
    consent.set_consent(member=b, purpose="marketing", channel="sms", granted=True, actor=alice)
    assert _can(members[0], "sms") == {a.pk, b.pk, c.pk}
    assert _can(members[0], "email") == {a.pk, c.pk}


def test_can_message_without_consent_or_for_gone_members(alice, members):
    a, b, _c = members[0]
    consent.set_consent(member=a, purpose="marketing", granted=True, actor=alice)
    consent.set_consent(member=b, purpose="marketing", granted=True, actor=alice)
    Member.objects.filter(pk=b.pk).update(merged_into=a)
    assert _can(members[0], "wecom") == {a.pk}
    with pytest.raises(ValueError):
        consent.can_message([a.pk], "all")


def test_can_message_is_one_query_for_many(alice, store_a, django_assert_num_queries):
    ids = [m.pk for m in Member.objects.bulk_create(Member(name=f"m{i}", home_store=store_a) for i in range(300))]
    Consent.objects.bulk_create(Consent(member_id=i, purpose="marketing", channel="all", granted=True) for i in ids)
    with django_assert_num_queries(1):
        assert len(list(consent.can_message(ids, "sms"))) == 300
