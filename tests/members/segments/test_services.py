"""Saved segments, snapshots and rule tags (with a real Celery worker)."""

from __future__ import annotations

import pytest

from members.models import Member, MemberTag, Tag
from members.segments import queries, services
from members.segments.definition import DefinitionError
from members.segments.models import Segment, SnapshotChunk
from scrm.errors import Forbidden
from tests.helpers import wait_for


def test_store_roles_make_segments_of_their_store(db, bob, alice, store_a, store_b, tags):
    segment = services.create_segment(actor=bob, name="A2", definition={"tags": {"any": [tags[0].pk]}})
    assert segment.store == store_a and segment.created_by == bob
    with pytest.raises(Forbidden):
        services.create_segment(actor=bob, name="x", definition={"all": []}, store=store_b)
    brand = services.create_segment(actor=alice, name="brand", definition={"all": []})
    assert brand.store is None
    with pytest.raises(DefinitionError):
        services.create_segment(actor=alice, name="bad", definition={"tags": {"any": ["x"]}})
    assert not Segment.objects.filter(name="bad").exists()
    services.update_segment(segment=brand, actor=alice, definition={"any": []}, name="nobody")
    brand.refresh_from_db()
    assert brand.name == "nobody" and brand.definition == {"any": []}


@pytest.mark.parametrize("extra", [[], [{"field": "gender", "op": "in", "value": ["u"]}]], ids=["bitmap", "sql"])
def test_snapshot_freezes_members_the_actor_sees(population, tags, alice, bob, extra):
    definition = {"all": [{"tags": {"any": [tags[1].pk, tags[2].pk]}}, *extra]}
    brand = services.create_segment(actor=alice, name="brand", definition=definition)
    expected = set(queries.member_queryset(definition, alice).values_list("id", flat=True))
    snapshot = services.snapshot_segment(segment=brand, actor=alice)
    assert snapshot.member_count == len(expected) > 100
    assert queries.snapshot_member_ids(snapshot) == sorted(expected)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(*queries.snapshot_ids_sql(snapshot))
        assert sorted(r[0] for r in cursor.fetchall()) == sorted(expected)
    brand.refresh_from_db()
    assert brand.last_count == len(expected)
    # Later changes do not move the snapshot.
    MemberTag.objects.filter(tag__in=tags[1:3]).delete()
    assert queries.snapshot_member_ids(snapshot) == sorted(expected)
    assert SnapshotChunk.objects.filter(snapshot=snapshot).count() >= 2  # ids span several chunks
    # A store manager's snapshot of their store's segment holds their store only.
    own = services.create_segment(actor=bob, name="mine", definition={"all": []})
    mine = services.snapshot_segment(segment=own, actor=bob)
    assert set(queries.snapshot_member_ids(mine)) == set(
        Member.live.filter(home_store=bob.store, id__in=population.values("id")).values_list("id", flat=True))
    assert mine.store_id == bob.store_id


def test_snapshot_of_another_store_is_refused(db, bob, dave, tags):
    own = services.create_segment(actor=bob, name="mine", definition={"all": []})
    with pytest.raises(Forbidden):
        services.snapshot_segment(segment=own, actor=dave)


def rule_tag(tags, rule):
    return Tag.objects.create(group=tags[0].group, name="rule", rule=rule)


def test_refresh_rule_tag_applies_the_difference(population, tags, alice):
    tag = rule_tag(tags, {"all": [{"tags": {"any": [tags[3].pk]}}, {"field": "stage", "op": "in", "value": ["act"]}]})
    expected = set(queries.member_queryset(tag.rule, alice).values_list("id", flat=True))
    result = services.refresh_rule_tag(tag_id=tag.pk)
    assert result.added == len(expected) > 0 and result.removed == 0
    assert set(MemberTag.objects.filter(tag=tag, source="rule").values_list("member_id", flat=True)) == expected
    # Idempotent.
    assert services.refresh_rule_tag(tag_id=tag.pk).added == 0
    # Members leaving the rule lose the tag, new ones gain it.
    leaving = sorted(expected)[:5]
    Member.objects.filter(id__in=leaving).update(stage="aware")
    joining = list(population.filter(member_tags__tag=tags[3]).exclude(stage="act").values_list("id", flat=True)[:3])
    Member.objects.filter(id__in=joining).update(stage="act")
    result = services.refresh_rule_tag(tag_id=tag.pk)
    assert (result.added, result.removed) == (len(joining), len(leaving))
    now = set(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True))
    assert now == (expected - set(leaving)) | set(joining)
    tag.refresh_from_db()
    assert tag.rule_refreshed_at is not None
    # A rule tag can be used by segments like any tag (its bitmap is kept by the same triggers).
    assert queries.count({"tags": {"any": [tag.pk]}}, alice) == len(now)


def test_refresh_without_rule_or_tag(db, tags):
    assert services.refresh_rule_tag(tag_id=tags[0].pk) is None
    assert services.refresh_rule_tag(tag_id=10**9) is None




def test_periodic_refresh_runs_through_a_worker(celery_worker, population, tags):
    from members.segments.tasks import refresh_rule_tags

    good = rule_tag(tags, {"tags": {"all": [tags[0].pk, tags[1].pk]}})
    broken = Tag.objects.create(group=tags[0].group, name="broken", rule={"tags": {"any": [10**9]}})
    expected = population.filter(member_tags__tag=tags[0]).filter(member_tags__tag=tags[1]).count()
    refresh_rule_tags.delay()
    assert wait_for(lambda: MemberTag.objects.filter(tag=good).count() == expected)
    assert wait_for(lambda: Tag.objects.get(pk=good.pk).rule_refreshed_at is not None)
    assert not MemberTag.objects.filter(tag=broken).exists()
