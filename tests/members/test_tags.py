"""Tagging: set-based, who and how, single-choice groups, rule tags refused, store scoping."""

from __future__ import annotations

import pytest

from members.models import Member, MemberTag, Tag, TagGroup
from members.services import tags
from scrm.errors import Forbidden, InvalidInput, NotInScope


@pytest.fixture
def taste(db):
    group = TagGroup.objects.create(name="口味")
    return {name: Tag.objects.create(group=group, name=name) for name in ("黑巧", "白巧")}


@pytest.fixture
def price(db):
    group = TagGroup.objects.create(name="价格敏感度", multiple=False)
    return {name: Tag.objects.create(group=group, name=name) for name in ("高", "中", "低")}


@pytest.fixture
def rule_tag(taste):
    return Tag.objects.create(group=taste["黑巧"].group, name="高价值", rule={"tags": {"any": [taste["黑巧"].pk]}})


def tagged(tag):
    return set(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True))


def test_tag_members_in_bulk_records_who_and_skips_those_tagged(carol, members, taste):
    mine, _ = members
    ids = [m.pk for m in mine]
    first = tags.tag_members(tag=taste["黑巧"], members=ids[:2], actor=carol)
    again = tags.tag_members(tag=taste["黑巧"], members=ids, actor=carol)
    assert (first.changed, again.changed) == (2, 1)
    assert tagged(taste["黑巧"]) == set(ids)
    row = MemberTag.objects.get(tag=taste["黑巧"], member=mine[0])
    assert row.added_by == carol and row.source == "bulk" and row.added_at


def test_untag_members(carol, members, taste):
    ids = [m.pk for m in members[0]]
    tags.tag_members(tag=taste["白巧"], members=ids, actor=carol)
    assert tags.untag_members(tag=taste["白巧"], members=ids[:2], actor=carol).changed == 2
    assert tagged(taste["白巧"]) == {ids[2]}


def test_members_of_another_store_are_refused_and_nothing_is_written(carol, members, taste):
    mine, theirs = members
    with pytest.raises(NotInScope) as caught:
        tags.tag_members(tag=taste["黑巧"], members=[mine[0].pk, theirs[0].pk, 999_999], actor=carol)
    assert caught.value.details == {"members": [theirs[0].pk, 999_999]}
    assert tagged(taste["黑巧"]) == set()
    with pytest.raises(NotInScope):
        tags.untag_members(tag=taste["黑巧"], members=[theirs[0].pk], actor=carol)


def test_store_bound_key_cannot_tag_another_stores_members(make_key, store_a, members, taste):
    from scrm.api.auth import ApiPrincipal
    from scrm.models import ApiKey

    make_key(scopes=["members:write"], store=store_a, name="k")
    key = ApiPrincipal(ApiKey.objects.get(name="k"))
    with pytest.raises(NotInScope):
        tags.tag_members(tag=taste["黑巧"], members=[members[1][0].pk], actor=key)
    result = tags.tag_members(tag=taste["黑巧"], members=[members[0][0].pk], actor=key, source="api")
    assert result.changed == 1
    assert MemberTag.objects.get(tag=taste["黑巧"]).added_by_label.startswith("API key k")


def test_single_choice_group_replaces_the_other_tag(carol, members, price):
    ids = [m.pk for m in members[0]]
    tags.tag_members(tag=price["高"], members=ids, actor=carol)
    result = tags.tag_members(tag=price["低"], members=ids[:2], actor=carol)
    assert result.replaced == 2
    assert tagged(price["高"]) == {ids[2]} and tagged(price["低"]) == set(ids[:2])


def test_rule_tags_cannot_be_added_or_removed_by_hand(alice, members, rule_tag):
    ids = [m.pk for m in members[0]]
    with pytest.raises(InvalidInput) as caught:
        tags.tag_members(tag=rule_tag, members=ids, actor=alice)
    assert caught.value.code == "rule_tag"
    with pytest.raises(InvalidInput):
        tags.untag_members(tag=rule_tag, members=ids, actor=alice)
    with pytest.raises(InvalidInput):
        tags.tag_member(member=members[0][0], tag_ids=[rule_tag.pk], actor=alice)
    assert tags.tag_members(tag=rule_tag, members=ids, actor=alice, source="rule").changed == 3


def test_tag_a_queryset_set_based(alice, members, taste, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        result = tags.tag_members(tag=taste["黑巧"], members=Member.live.filter(name__startswith="张"), actor=alice)
    assert result.changed == 3


def test_queryset_is_scoped_to_the_actor(carol, members, taste):
    result = tags.tag_members(tag=taste["黑巧"], members=Member.objects.all(), actor=carol)
    assert result.changed == 3
    assert tagged(taste["黑巧"]) == {m.pk for m in members[0]}


def test_tag_member_with_unknown_tag_names_it(carol, members, taste):
    with pytest.raises(InvalidInput) as caught:
        tags.tag_member(member=members[0][0], tag_ids=[taste["黑巧"].pk, 424242], actor=carol)
    assert any("424242" in m for m in caught.value.details["tags"])
    assert not MemberTag.objects.exists()


def test_tag_member_outside_store_is_not_found(carol, members, taste):
    with pytest.raises(NotInScope):
        tags.tag_member(member=members[1][0], tag_ids=[taste["黑巧"].pk], actor=carol)


def test_bad_ids_are_a_clear_error(carol, taste):
    with pytest.raises(InvalidInput) as caught:
        tags.tag_members(tag=taste["黑巧"], members=["1", None], actor=carol)
    assert "members" in caught.value.details


# --- vocabulary ----------------------------------------------------------------------------------


def test_store_roles_cannot_change_the_vocabulary(carol, taste):
    with pytest.raises(Forbidden):
        tags.create_group(actor=carol, name="x")
    with pytest.raises(Forbidden):
        tags.create_tag(actor=carol, group=taste["黑巧"].group, name="y")


def test_group_to_single_choice_refused_while_members_carry_two(alice, members, taste):
    tags.tag_members(tag=taste["黑巧"], members=[members[0][0].pk], actor=alice)
    tags.tag_members(tag=taste["白巧"], members=[members[0][0].pk], actor=alice)
    with pytest.raises(InvalidInput) as caught:
        tags.update_group(group=taste["黑巧"].group, actor=alice, multiple=False)
    assert "multiple" in caught.value.details
    tags.untag_members(tag=taste["白巧"], members=[members[0][0].pk], actor=alice)
    assert tags.update_group(group=taste["黑巧"].group, actor=alice, multiple=False).multiple is False


def test_duplicate_names_and_non_empty_group(alice, taste):
    with pytest.raises(InvalidInput):
        tags.create_group(actor=alice, name="口味")
    with pytest.raises(InvalidInput):
        tags.create_tag(actor=alice, group=taste["黑巧"].group, name="白巧")
    with pytest.raises(Exception) as caught:
        tags.delete_group(group=taste["黑巧"].group, actor=alice)
    assert caught.value.code == "group_not_empty"


def test_moving_a_tag_into_a_single_choice_group_checks_clashes(alice, members, taste, price):
    member = members[0][0].pk
    tags.tag_members(tag=taste["黑巧"], members=[member], actor=alice)
    tags.tag_members(tag=price["高"], members=[member], actor=alice)
    with pytest.raises(InvalidInput) as caught:
        tags.update_tag(tag=taste["黑巧"], actor=alice, group=price["高"].group)
    assert "group" in caught.value.details
    assert tags.update_tag(tag=taste["白巧"], actor=alice, group=price["高"].group).group == price["高"].group
