"""Topics: their window, opening and closing, joining by level, the reward paid once, reposts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from communities.services import communities as community_services
from koc.models import Participation, Post, Repost, Topic
from koc.services import topics
from loyalty.points.models import MemberPoints, PointEntry, PointsPolicy
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope


@pytest.fixture
def window():
    now = timezone.now()
    return now - dt.timedelta(days=1), now + dt.timedelta(days=14)


@pytest.fixture
def topic(alice, window):
    made = topics.create_topic(actor=alice, title="Summer drinks", brief="Your favourite summer drink",
                               starts_at=window[0], ends_at=window[1], platforms=["douyin", "xiaohongshu"],
                               reward_points=200, reward_sample="A cup")
    return topics.open_topic(topic=made, actor=alice)


def test_create_a_topic(alice, window, levels):
    made = topics.create_topic(actor=alice, title=" Autumn ", brief="b", starts_at=window[0], ends_at=window[1],
                               platforms=("xiaohongshu", "douyin"), min_level_id=levels[1].pk)
    assert (made.title, made.status, made.platforms, made.min_level, made.created_by) == (
        "Autumn", "draft", ["xiaohongshu", "douyin"], levels[1], alice)


def test_a_window_ending_before_it_starts_is_refused_and_nothing_changes(alice, window):
    with pytest.raises(InvalidInput) as caught:
        topics.create_topic(actor=alice, title="T", brief="B", starts_at=window[1], ends_at=window[0])
    assert list(caught.value.details) == ["ends_at"]
    assert not Topic.objects.exists()
    with pytest.raises(InvalidInput) as caught:
        topics.create_topic(actor=alice, title="", brief="", starts_at=window[0], ends_at=window[1],
                            platforms=["myspace"], min_level_id=999, reward_points=-1)
    assert set(caught.value.details) == {"title", "brief", "platforms", "min_level", "reward_points"}
    assert not Topic.objects.exists()


def test_update_checks_the_merged_window(topic, alice):
    with pytest.raises(InvalidInput) as caught:
        topics.update_topic(topic=topic, actor=alice, ends_at=topic.starts_at - dt.timedelta(hours=1))
    assert list(caught.value.details) == ["ends_at"]
    topic.refresh_from_db()
    assert topic.ends_at > topic.starts_at
    assert topics.update_topic(topic=topic, actor=alice, reward_points=300).reward_points == 300


def test_topics_are_the_brands(bob, window, topic):
    with pytest.raises(Forbidden):
        topics.create_topic(actor=bob, title="T", brief="B", starts_at=window[0], ends_at=window[1])
    with pytest.raises(Forbidden):
        topics.close_topic(topic=topic, actor=bob)


def test_open_close_and_an_ended_topic(alice, topic):
    assert topics.open_topic(topic=topic, actor=alice).status == "open"
    assert topics.close_topic(topic=topic, actor=alice).status == "closed"
    with pytest.raises(Conflict):
        topics.update_topic(topic=topic, actor=alice, title="x")
    Topic.objects.filter(pk=topic.pk).update(ends_at=timezone.now() - dt.timedelta(minutes=1),
                                             starts_at=timezone.now() - dt.timedelta(days=3))
    with pytest.raises(Conflict) as caught:
        topics.open_topic(topic=topic, actor=alice)
    assert caught.value.code == "topic_ended"


def test_join_by_level_idempotent(topic, creator, carol, dave, alice, levels):
    first = topics.join(topic=topic, creator=creator, actor=carol)
    assert topics.join(topic=topic, creator=creator, actor=carol) == first
    assert Participation.objects.count() == 1
    with pytest.raises(NotInScope):
        topics.join(topic=topic, creator=creator, actor=dave)
    senior = topics.open_topic(topic=topics.create_topic(
        actor=alice, title="Seniors", brief="b", starts_at=topic.starts_at, ends_at=topic.ends_at,
        min_level_id=levels[2].pk), actor=alice)
    with pytest.raises(Conflict) as caught:
        topics.join(topic=senior, creator=creator, actor=carol)
    assert "open from the level Senior" in caught.value.message
    draft = topics.create_topic(actor=alice, title="Draft", brief="b", starts_at=topic.starts_at,
                                ends_at=topic.ends_at)
    with pytest.raises(Conflict):
        topics.join(topic=draft, creator=creator, actor=carol)


def test_reward_once_through_the_points_service(topic, creator, carol, alice, make_post):
    PointsPolicy.objects.create(pk=1, points_per_unit=1, expiry_mode="never")
    participation = topics.join(topic=topic, creator=creator, actor=carol)
    with pytest.raises(Conflict) as caught:
        topics.reward(participation=participation, actor=alice)
    assert caught.value.code == "no_post_for_topic"
    make_post(creator, url="https://www.douyin.com/video/55", topic_id=topic.pk)
    with pytest.raises(Forbidden):
        topics.reward(participation=participation, actor=carol)
    first = topics.reward(participation=participation, actor=alice)
    again = topics.reward(participation=participation, actor=alice)
    assert first.rewarded_at and again.rewarded_at == first.rewarded_at
    assert MemberPoints.objects.get(pk=creator.member_id).balance == 200
    assert PointEntry.objects.filter(member=creator.member).count() == 1


def test_repost_to_a_visible_community(creator, creator_b, make_post, bob, carol, dave, alice, store_b):
    post = make_post(creator)
    club = community_services.create_community(actor=bob, data=community_services.CommunityInput(
        store=creator.member.home_store, name="Runners", owner=carol))
    other_club = community_services.create_community(actor=alice, data=community_services.CommunityInput(
        store=store_b, name="Cyclists", owner=dave))
    with pytest.raises(InvalidInput) as caught:
        topics.repost(post=post, actor=bob, community_id=other_club.pk, campaign_id=999)
    assert set(caught.value.details) == {"community", "campaign"}
    with pytest.raises(NotInScope):
        topics.repost(post=post, actor=dave, community_id=other_club.pk)
    assert not Repost.objects.exists()
    made = topics.repost(post=post, actor=bob, community_id=club.pk)
    assert (made.community, made.by) == (club, bob)
    first_at = Post.objects.get(pk=post.pk).reposted_at
    assert first_at == made.at
    topics.repost(post=post, actor=bob)
    assert Post.objects.get(pk=post.pk).reposted_at == first_at and Repost.objects.count() == 2
