"""Standing automatic membership: a community's rule "the members of segment S are members" joins
the segment's members of the store (source automatic), removes those who left it only if they joined
automatically, stops at the capacity in member id order and says so; a segment that cannot be
evaluated is an error that changes nothing, never everyone."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from communities import tasks
from communities.models import Community, CommunityMembership
from communities.services import automatic
from communities.services import communities as community_services
from members.models import Tag, TagGroup
from members.segments import services as segments
from members.segments.models import Segment
from members.services import tags as tag_services
from scrm.errors import InvalidInput

pytestmark = pytest.mark.django_db


def open_members(community):
    return dict(CommunityMembership.objects.filter(community=community, left_at__isnull=True)
                .values_list("member_id", "source"))


@pytest.fixture
def senior(alice):
    group = TagGroup.objects.create(name="Programme")
    return Tag.objects.create(group=group, name="KOC senior")


@pytest.fixture
def rule_segment(alice, senior):
    return segments.create_segment(actor=alice, name="KOC seniors",
                                   definition={"all": [{"tags": {"any": [senior.pk]}}]})


def test_the_rule_follows_the_segment_and_never_removes_who_joined_by_hand(club, bob, alice, members, senior,
                                                                         rule_segment):
    a, b = members
    tag_services.tag_members(tag=senior, members=[a[0].pk, a[1].pk, b[0].pk], actor=alice)
    community_services.join(community=club, member_id=a[2].pk, actor=bob)  # by hand, not in the segment
    automatic.set_rule(community=club, actor=bob, segment_id=rule_segment.pk)
    done = automatic.apply(community_id=club.pk)
    assert (done.added, done.removed, done.left_out, done.error) == (2, 0, 0, "")
    assert open_members(club) == {a[0].pk: "automatic", a[1].pk: "automatic", a[2].pk: "store"}  # not b[0]
    assert automatic.apply(community_id=club.pk).added == 0  # again: nothing new

    tag_services.untag_members(tag=senior, members=[a[0].pk], actor=alice)  # a[0] leaves the segment
    tag_services.tag_members(tag=senior, members=[a[2].pk], actor=alice)  # a[2] joins it, already in by hand
    done = automatic.apply(community_id=club.pk)
    assert (done.added, done.removed) == (0, 1)
    assert open_members(club) == {a[1].pk: "automatic", a[2].pk: "store"}
    tag_services.untag_members(tag=senior, members=[a[2].pk], actor=alice)
    assert automatic.apply(community_id=club.pk).removed == 0  # a[2] joined by hand: stays
    club.refresh_from_db()
    assert club.auto_result["members"] == 2 and club.auto_ran_at is not None


def test_past_the_capacity_it_adds_in_member_order_and_says_so(club, bob, alice, members, senior, rule_segment):
    a, _b = members
    tag_services.tag_members(tag=senior, members=[m.pk for m in a], actor=alice)
    community_services.update_community(community=club, actor=bob, capacity=2)
    automatic.set_rule(community=club, actor=bob, segment_id=rule_segment.pk)
    done = automatic.apply(community_id=club.pk)
    assert (done.added, done.left_out) == (2, 1) and "could not join" in done.error
    assert sorted(open_members(club)) == sorted([a[0].pk, a[1].pk])  # the lowest member ids first
    club.refresh_from_db()
    assert club.auto_result["left_out"] == 1


def test_a_segment_that_cannot_be_evaluated_changes_nothing(club, bob, alice, members, senior, rule_segment):
    a, _b = members
    tag_services.tag_members(tag=senior, members=[a[0].pk], actor=alice)
    automatic.set_rule(community=club, actor=bob, segment_id=rule_segment.pk)
    automatic.apply(community_id=club.pk)
    assert open_members(club) == {a[0].pk: "automatic"}
    Segment.objects.filter(pk=rule_segment.pk).update(definition={"all": [{"no_such_filter": {"any": [1]}}]})
    done = automatic.apply(community_id=club.pk)
    assert done.error and "cannot be evaluated" in done.error and (done.added, done.removed) == (0, 0)
    segments.delete_segment(segment=Segment.objects.get(pk=rule_segment.pk), actor=alice)
    done = automatic.apply(community_id=club.pk)
    assert "no longer exists" in done.error and (done.added, done.removed) == (0, 0)
    assert open_members(club) == {a[0].pk: "automatic"}  # never emptied, never everyone
    club.refresh_from_db()
    assert "no longer exists" in club.auto_result["error"]


def test_saving_a_rule_checks_the_segment(club, bob, dave, alice, rule_segment):
    theirs = segments.create_segment(actor=dave, name="B's", definition={"all": []})
    for bad in (999_999, theirs.pk, "1"):
        with pytest.raises(InvalidInput) as caught:
            automatic.set_rule(community=club, actor=bob, segment_id=bad)
        assert "segment" in caught.value.details
    assert Community.objects.get(pk=club.pk).auto_segment_id is None
    automatic.set_rule(community=club, actor=bob, segment_id=rule_segment.pk)
    assert Community.objects.get(pk=club.pk).auto_segment_id == rule_segment.pk
    automatic.set_rule(community=club, actor=bob, segment_id=None)
    assert Community.objects.get(pk=club.pk).auto_segment_id is None


def test_the_daily_task_the_api_and_the_page(client, club, bob, alice, members, senior, rule_segment):
    a, _b = members
    tag_services.tag_members(tag=senior, members=[a[0].pk], actor=alice)
    api = APIClient()
    api.force_authenticate(bob)
    answer = api.patch(f"/api/v1/communities/{club.pk}/", {"auto_segment": rule_segment.pk}, format="json")
    assert answer.status_code == 200 and answer.json()["auto_segment"] == rule_segment.pk
    assert api.patch(f"/api/v1/communities/{club.pk}/", {"auto_segment": 999_999}, format="json").status_code == 400
    assert tasks.apply_membership_rules.apply().get() == 1  # the beat's run, in the worker's code path
    assert open_members(club) == {a[0].pk: "automatic"}
    client.force_login(bob)
    page = client.get(f"/communities/{club.pk}/").content.decode()
    assert 'data-testid="rule-result"' in page and "1 joined" in page
    assert client.post(f"/communities/{club.pk}/rule/", {"segment": ""}).status_code == 302
    assert Community.objects.get(pk=club.pk).auto_segment_id is None
