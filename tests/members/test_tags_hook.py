"""members.hooks.on_tags_changed: the tag services report the pairs they added and removed, with
their source, after commit; a queryset's members are not reported one by one."""

from __future__ import annotations

import pytest

from members import hooks
from members.models import Member, Tag, TagGroup
from members.services import tags


@pytest.fixture
def seen():
    calls = []

    def callback(added, removed, source):
        calls.append((added, removed, source))

    hooks.on_tags_changed(callback)
    yield calls
    hooks._TAG_CALLBACKS.remove(callback)


@pytest.fixture
def groups(db):
    multi = TagGroup.objects.create(name="口味")
    single = TagGroup.objects.create(name="价格", multiple=False)
    return (
        {n: Tag.objects.create(group=multi, name=n) for n in ("黑巧", "白巧")},
        {n: Tag.objects.create(group=single, name=n) for n in ("高", "低")},
    )


def test_added_and_removed_pairs_reported_after_commit(carol, members, groups, seen,
                                                       django_capture_on_commit_callbacks):
    (a0, a1, _a2), _ = members
    taste, price = groups
    with django_capture_on_commit_callbacks(execute=False) as pending:
        tags.tag_member(member=a0, tag_ids=[taste["黑巧"].pk, price["高"].pk], actor=carol)
    assert seen == []  # nothing before commit
    for callback in pending:
        callback()
    assert seen == [([(a0.pk, taste["黑巧"].pk), (a0.pk, price["高"].pk)], [], "manual")]
    seen.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tags.tag_members(tag=price["低"], members=[a0.pk, a1.pk], actor=carol, source="api")
    # the single-choice group's other tag is reported removed, under the same source
    assert sorted(seen) == sorted([
        ([], [(a0.pk, price["高"].pk)], "api"),
        ([(a0.pk, price["低"].pk), (a1.pk, price["低"].pk)], [], "api"),
    ])
    seen.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tags.untag_member(member=a0, tag=taste["黑巧"], actor=carol)
        tags.untag_member(member=a0, tag=taste["黑巧"], actor=carol)  # nothing left to remove
    assert seen == [([], [(a0.pk, taste["黑巧"].pk)], "manual")]


def test_queryset_tagging_is_not_reported_one_by_one(alice, members, groups, seen,
                                                     django_capture_on_commit_callbacks):
    taste, _ = groups
    with django_capture_on_commit_callbacks(execute=True):
        result = tags.tag_members(tag=taste["白巧"], members=Member.objects.all(), actor=alice)
        tags.untag_members(tag=taste["白巧"], members=Member.objects.all(), actor=alice)
    assert result.changed == 5
    assert seen == []


def test_wecom_source_is_known(carol, members, groups):
    (a0, *_), _ = members
    assert tags.tag_member(member=a0, tag_ids=[groups[0]["黑巧"].pk], actor=carol, source="wecom") == 1
    assert a0.member_tags.get().source == "wecom"
