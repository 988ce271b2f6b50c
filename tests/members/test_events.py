"""The member centre writes its events to the event log in the change's transaction: joins (one, a
batch, an import, the set-based new-member path), tags added and removed (by hand, in bulk, from a
segment, by a rule, by import, a tag deleted or merged), consents, merges and erasure. A change that
did not happen writes none; a change that failed leaves none."""

from __future__ import annotations

import pytest
from django.db import transaction

from members.models import Member, Tag, TagGroup
from members.segments import services as segment_services
from members.services import bulk_new, consent, merge, privacy, tags, upsert
from members.services.identities import IdentityKey
from scrm.errors import InvalidInput, NotInScope
from scrm.models import Event
from tests.members.io.conftest import run_import

pytestmark = pytest.mark.django_db


def logged(code=None):
    rows = Event.objects.order_by("id")
    if code:
        rows = rows.filter(type=code)
    return [(e.type, e.member_id, e.store_id, e.data) for e in rows]


@pytest.fixture
def taste(db):
    group = TagGroup.objects.create(name="口味")
    return {name: Tag.objects.create(group=group, name=name) for name in ("黑巧", "白巧")}


@pytest.fixture
def price(db):
    group = TagGroup.objects.create(name="价格敏感度", multiple=False)
    return {name: Tag.objects.create(group=group, name=name) for name in ("高", "低")}


def tag_data(tag):
    return {"tag": {"id": tag.pk, "name": tag.name, "group": {"id": tag.group_id, "name": tag.group.name}}}


# --- joins -----------------------------------------------------------------------------------------


def test_a_new_member_joins_once_and_an_update_is_no_join(alice, store_a, taste):
    result = upsert.upsert_member(
        identities=[{"channel": "wecom", "external_id": "wm1"}],
        profile={"name": "王芳", "phone": "13800138000", "home_store": "SH01", "source": "store_qr"},
        tags=[taste["黑巧"].pk], actor=alice,
    )
    assert logged() == [
        ("member.joined", result.member_id, store_a.pk, {"source": "store_qr", "channel": "wecom"}),
        ("member.tag_added", result.member_id, store_a.pk, tag_data(taste["黑巧"])),
    ]
    assert "王芳" not in str(logged()) and "13800138000" not in str(logged())
    upsert.upsert_member(identities=[{"channel": "wecom", "external_id": "wm1"}], profile={"name": "王芳芳"},
                         tags=[taste["黑巧"].pk], actor=alice)
    assert len(logged()) == 2  # an update and a tag already there: nothing happened worth an event


def test_a_refused_member_leaves_no_event(alice):
    with pytest.raises(InvalidInput):
        upsert.create_member(profile={"name": "x", "phone": "not a phone"}, actor=alice)
    assert logged() == []


def test_a_batch_joins_one_event_per_new_member(alice, store_a):
    items = [{"identities": [{"channel": "tmall", "external_id": f"t{i}"}], "home_store": "SH01"}
             for i in range(5)]
    results = upsert.bulk_upsert_members(items=items, actor=alice)
    joined = logged("member.joined")
    assert sorted(m for _t, m, _s, _d in joined) == sorted(r.member_id for r in results)
    assert {(s, d["channel"]) for _t, _m, s, d in joined} == {(store_a.pk, "tmall")}
    upsert.bulk_upsert_members(items=items, actor=alice)
    assert len(logged("member.joined")) == 5


def test_the_set_based_new_member_path_joins_before_the_members_are_tagged(alice, store_a, taste):
    with transaction.atomic():
        claim = bulk_new.claim(items=[
            bulk_new.NewMember(keys=(IdentityKey("wecom", "", f"wm{i}"),), name=f"n{i}", home_store=store_a)
            for i in range(3)
        ], actor=alice)
        ids = sorted(claim.member_of.values())
        claim.create()
        tags.apply_pairs([(i, taste["白巧"]) for i in ids], actor=alice, source="wecom")
    types = [(t, m) for t, m, _s, _d in logged()]
    assert types == [("member.joined", i) for i in ids] + [("member.tag_added", i) for i in ids]
    assert {d["channel"] for _t, _m, _s, d in logged("member.joined")} == {"wecom"}


def test_an_import_joins_tags_and_consents_set_based(alice, store_a, taste, price):
    existing = Member.objects.get(pk=upsert.create_member(
        profile={"name": "老会员", "phone": "13900139002", "home_store": "SH01"}, actor=alice).member_id)
    tags.apply_pairs([(existing.pk, price["高"])], actor=alice, source="manual")
    Event.objects.all().delete()
    csv = ("name,phone,home_store,wecom,tags,consent:marketing\n"
           "新会员,13900139001,SH01,wm9,口味:黑巧,granted\n"
           "老会员,13900139002,SH01,,价格敏感度:低,\n")
    job = run_import(alice, csv.encode())
    assert job.status == "done", job.error
    new = Member.objects.get(phone="+8613900139001")
    assert logged() == [
        ("member.joined", new.pk, store_a.pk, {"source": "import", "channel": "phone"}),
        ("member.tag_removed", existing.pk, store_a.pk, tag_data(price["高"])),
        ("member.tag_added", existing.pk, store_a.pk, tag_data(price["低"])),  # in member order
        ("member.tag_added", new.pk, store_a.pk, tag_data(taste["黑巧"])),
        ("member.consent_changed", new.pk, store_a.pk, {"channel": "all", "purpose": "marketing", "granted": True}),
    ]


# --- tags ------------------------------------------------------------------------------------------


def test_tagging_writes_one_event_per_member_tagged_and_none_for_those_tagged(carol, members, taste):
    mine, _theirs = members
    ids = [m.pk for m in mine]
    tags.tag_members(tag=taste["黑巧"], members=ids[:2], actor=carol)
    tags.tag_members(tag=taste["黑巧"], members=ids, actor=carol)
    assert logged() == [("member.tag_added", i, m.home_store_id, tag_data(taste["黑巧"]))
                        for i, m in zip(ids[:2] + ids[2:], mine, strict=True)]


def test_tagging_a_segment_queryset_writes_events_in_the_same_statement(alice, members, taste):
    everyone = Member.objects.filter(pk__in=[m.pk for group in members for m in group])
    result = tags.tag_members(tag=taste["白巧"], members=everyone, actor=alice)
    assert result.changed == 5
    assert sorted(m for _t, m, _s, _d in logged("member.tag_added")) == sorted(everyone.values_list("pk", flat=True))
    assert {s for _t, _m, s, _d in logged()} == {members[0][0].home_store_id, members[1][0].home_store_id}
    assert tags.tag_members(tag=taste["白巧"], members=everyone, actor=alice).changed == 0
    assert len(logged()) == 5


def test_single_choice_replacement_is_a_removal_then_an_addition(carol, members, price):
    member = members[0][0]
    tags.tag_member(member=member, tag_ids=[price["高"].pk], actor=carol)
    tags.tag_member(member=member, tag_ids=[price["低"].pk], actor=carol)
    assert [(t, d["tag"]["name"]) for t, _m, _s, d in logged()] == [
        ("member.tag_added", "高"), ("member.tag_removed", "高"), ("member.tag_added", "低")]


def test_untagging_writes_removals_only_for_members_who_had_it(carol, members, taste):
    ids = [m.pk for m in members[0]]
    tags.tag_members(tag=taste["黑巧"], members=ids[:1], actor=carol)
    tags.untag_members(tag=taste["黑巧"], members=ids, actor=carol)
    assert logged("member.tag_removed") == [("member.tag_removed", ids[0], members[0][0].home_store_id,
                                             tag_data(taste["黑巧"]))]


def test_a_refused_tagging_leaves_no_event(carol, members, taste):
    with pytest.raises(NotInScope):
        tags.tag_members(tag=taste["黑巧"], members=[members[0][0].pk, members[1][0].pk], actor=carol)
    assert logged() == []


def test_deleting_or_merging_a_tag_tells_each_member(alice, members, taste):
    ids = [m.pk for m in members[0]]
    tags.tag_members(tag=taste["黑巧"], members=ids[:2], actor=alice)
    tags.tag_members(tag=taste["白巧"], members=ids[1:], actor=alice)
    Event.objects.all().delete()
    dark = tag_data(taste["黑巧"])
    tags.merge_tags(source=taste["黑巧"], target=taste["白巧"], actor=alice)
    assert logged() == [("member.tag_added", ids[0], members[0][0].home_store_id, tag_data(taste["白巧"])),
                        ("member.tag_removed", ids[0], members[0][0].home_store_id, dark),
                        ("member.tag_removed", ids[1], members[0][1].home_store_id, dark)]
    Event.objects.all().delete()
    tags.delete_tag(tag=taste["白巧"], actor=alice)
    assert sorted(m for _t, m, _s, _d in logged("member.tag_removed")) == ids


def test_a_rule_tag_refresh_tells_who_gained_and_who_lost_it(alice, members, taste):
    mine = members[0]
    tags.tag_members(tag=taste["黑巧"], members=[m.pk for m in mine[:2]], actor=alice)
    rule = Tag.objects.create(group=taste["黑巧"].group, name="爱黑巧", rule={"tags": {"any": [taste["黑巧"].pk]}})
    Event.objects.all().delete()
    segment_services.refresh_rule_tag(tag_id=rule.pk)
    assert sorted(m for _t, m, _s, _d in logged("member.tag_added")) == [mine[0].pk, mine[1].pk]
    tags.untag_members(tag=taste["黑巧"], members=[mine[0].pk], actor=alice)
    Event.objects.all().delete()
    segment_services.refresh_rule_tag(tag_id=rule.pk)
    assert logged() == [("member.tag_removed", mine[0].pk, mine[0].home_store_id, tag_data(rule))]
    segment_services.refresh_rule_tag(tag_id=rule.pk)
    assert len(logged()) == 1


# --- consent, merge, erasure -----------------------------------------------------------------------


def test_consent_changes_are_events_and_a_repeated_answer_is_none(alice, members):
    member = members[0][0]
    consent.set_consent(member=member, purpose="marketing", channel="sms", granted=True, actor=alice)
    consent.set_consent(member=member, purpose="marketing", channel="sms", granted=True, actor=alice)
    consent.set_consent(member=member, purpose="marketing", channel="all", granted=False, actor=alice)
    assert [d for _t, _m, _s, d in logged("member.consent_changed")] == [
        {"channel": "sms", "purpose": "marketing", "granted": True},
        {"channel": "all", "purpose": "marketing", "granted": False},
        {"channel": "sms", "purpose": "marketing", "granted": False},
    ]
    with pytest.raises(InvalidInput):
        consent.set_consent(member=member, purpose="nonsense", granted=True, actor=alice)
    assert len(logged()) == 3


def test_a_merge_is_one_event_for_the_survivor_and_the_duplicates_past_stays(alice, members, taste):
    survivor, duplicate = members[0][0], members[0][1]
    tags.tag_members(tag=taste["黑巧"], members=[duplicate.pk], actor=alice)
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice, reason="manual")
    assert logged("member.merged") == [("member.merged", survivor.pk, survivor.home_store_id,
                                        {"into": {"id": survivor.pk}, "from": {"id": duplicate.pk},
                                         "reason": "manual"})]
    assert logged("member.tag_added")[0][1] == duplicate.pk  # history keeps the duplicate's id
    with pytest.raises(InvalidInput):
        merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    assert len(logged("member.merged")) == 1


def test_erasure_is_one_event_with_ids_only_and_the_export_lists_the_members_events(alice, members, taste):
    member = members[0][0]
    tags.tag_members(tag=taste["黑巧"], members=[member.pk], actor=alice)
    exported = privacy.export_member_data(member=member, actor=alice)["event_log"]
    assert [(e["type"], e["data"]) for e in exported] == [("member.tag_added", tag_data(taste["黑巧"]))]
    privacy.erase_member(member=member, actor=alice, reason="asked")
    privacy.erase_member(member=member, actor=alice, reason="asked")
    assert logged("member.erased") == [("member.erased", member.pk, member.home_store_id, {})]


def test_the_export_is_bounded_newest_first(alice, members):
    from scrm import events

    member = members[0][0]
    events.emit_many("member.consent_changed", [(member.pk, None, {"n": i}) for i in range(1005)])
    exported = privacy.export_member_data(member=member, actor=alice)["event_log"]
    assert len(exported) == privacy.EVENT_LOG_EXPORT_MAX
    assert exported[0]["data"] == {"n": 1004} and exported[-1]["data"] == {"n": 5}
