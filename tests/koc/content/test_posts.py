"""Recording posts and their metrics: every bad input is a clear error and changes nothing."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from koc.models import CreatorStatus, MetricSnapshot, Participation, Post, Topic
from koc.services import posts
from scrm.actors import SystemActor
from scrm.errors import Conflict, InvalidInput, NotInScope


def _snap(post, actor, taken_at, views=100, likes=10, saves=0, comments=0, shares=0, **extra):
    return posts.record_metrics(post=post, actor=actor, taken_at=taken_at, views=views, likes=likes, saves=saves,
                                comments=comments, shares=shares, **extra)


def test_record_a_post(creator, bob, ago):
    post = posts.record_post(creator=creator, actor=bob, url="https://www.xiaohongshu.com/explore/abc?xsec_token=1",
                             published_at=ago(days=1), title=" First look ")
    assert (post.platform, post.url_key, post.title, post.source, post.submitted_by) == (
        "xiaohongshu", "xiaohongshu.com/explore/abc", "First look", "staff", bob)
    assert post.url == "https://www.xiaohongshu.com/explore/abc?xsec_token=1"


@pytest.mark.parametrize(("url", "field"), [("not a url", "url"), ("https://example.com/p/1", "url"),
                                            ("", "url")])
def test_a_link_that_is_no_post_link_changes_nothing(creator, bob, ago, url, field):
    with pytest.raises(InvalidInput) as caught:
        posts.record_post(creator=creator, actor=bob, url=url, published_at=ago(days=1))
    assert field in caught.value.details
    assert not Post.objects.exists()


def test_the_same_post_twice_in_different_spellings_is_refused_naming_the_first(creator, bob, ago):
    first = posts.record_post(creator=creator, actor=bob, url="https://www.douyin.com/video/7301",
                              published_at=ago(days=1))
    for spelling in ("http://douyin.com/video/7301/?previous_page=x", "https://www.douyin.com/discover?modal_id=7301"):
        with pytest.raises(Conflict) as caught:
            posts.record_post(creator=creator, actor=bob, url=spelling, published_at=ago(days=1))
        assert caught.value.details["post"] == first.pk and caught.value.code == "post_exists"
    assert Post.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_post_at_once_from_two_places_is_recorded_once(creator, bob, ago):
    barrier, outcomes = threading.Barrier(2), []

    def record(url):
        try:
            barrier.wait()
            posts.record_post(creator=creator, actor=bob, url=url, published_at=ago(days=1))
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(u,)) for u in
               ("https://www.bilibili.com/video/BV1", "https://m.bilibili.com/video/BV1/")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "created"]
    assert Post.objects.count() == 1


def test_published_in_the_future_or_the_wrong_platform_is_refused(creator, bob):
    with pytest.raises(InvalidInput) as caught:
        posts.record_post(creator=creator, actor=bob, url="https://www.douyin.com/video/1", platform="weibo",
                          published_at=timezone.now() + dt.timedelta(hours=1))
    assert set(caught.value.details) == {"url", "published_at"}
    assert not Post.objects.exists()


def test_a_creator_who_left_cannot_post(creator, bob, ago):
    creator.status = CreatorStatus.LEFT
    creator.save()
    with pytest.raises(Conflict) as caught:
        posts.record_post(creator=creator, actor=bob, url="https://weibo.com/1/A", published_at=ago(days=1))
    assert caught.value.code == "creator_left" and not Post.objects.exists()


def test_scoping_another_stores_creator_is_not_found(creator, dave, carol, ago):
    with pytest.raises(NotInScope):
        posts.record_post(creator=creator, actor=dave, url="https://weibo.com/1/A", published_at=ago(days=1))
    # clerks record posts of their own store
    assert posts.record_post(creator=creator, actor=carol, url="https://weibo.com/1/A", published_at=ago(days=1))


def test_a_topic_must_be_open_on_the_platform_and_at_the_level(creator, bob, alice, levels, ago):
    now = timezone.now()
    topic = Topic.objects.create(title="Summer", brief="Show it", starts_at=now - dt.timedelta(days=5),
                                 ends_at=now + dt.timedelta(days=5), platforms=["xiaohongshu"], status="draft")
    url = "https://www.xiaohongshu.com/explore/t1"

    def refused(**kw):
        with pytest.raises(InvalidInput) as caught:
            posts.record_post(creator=creator, actor=bob, published_at=ago(days=1), topic_id=topic.pk, **kw)
        return caught.value.details["topic"][0]

    assert "not open" in refused(url=url)
    Topic.objects.filter(pk=topic.pk).update(status="open", min_level=levels[1])
    assert "open from the level Intermediate" in refused(url=url)
    creator.level = levels[2]
    creator.save()
    assert "for xiaohongshu only" in refused(url="https://www.douyin.com/video/9")
    with pytest.raises(InvalidInput) as caught:
        posts.record_post(creator=creator, actor=bob, url=url, published_at=ago(days=1), topic_id=999_999)
    assert "No topic" in caught.value.details["topic"][0]
    post = posts.record_post(creator=creator, actor=bob, url=url, published_at=ago(days=1), topic_id=topic.pk)
    assert post.topic == topic
    assert Participation.objects.filter(topic=topic, creator=creator).exists()  # posting for it is taking part


def test_metrics_update_the_post_and_its_figures(creator, make_post, bob, rates, ago):
    post = make_post(creator, published_at=ago(days=5))
    _snap(post, bob, ago(days=4), views=1000, likes=50)
    snap = _snap(post, bob, ago(days=2), views=5000, likes=300, saves=120, comments=40, shares=10,
                 followers_gained=7)
    assert snap.post_id == post.pk
    post.refresh_from_db()
    assert (post.views, post.likes, post.followers_gained, post.interactions, post.interaction_rate,
            post.media_value) == (5000, 300, 7, 700, Decimal("14.00"), Decimal("950.00"))
    assert abs((post.measured_at - ago(days=2)).total_seconds()) < 5
    # a snapshot between the two does not move the post's latest figures
    _snap(post, bob, ago(days=3), views=2000, likes=100)
    post.refresh_from_db()
    assert post.views == 5000 and MetricSnapshot.objects.filter(post=post).count() == 3


def test_a_counter_going_down_is_refused_naming_each_with_the_earlier_value(creator, make_post, bob, ago):
    post = make_post(creator, published_at=ago(days=5))
    _snap(post, bob, ago(days=4), views=1000, likes=50, saves=5)
    _snap(post, bob, ago(days=1), views=3000, likes=90, saves=9)
    with pytest.raises(InvalidInput) as caught:
        _snap(post, bob, ago(days=2), views=900, likes=60, saves=10)
    details = caught.value.details
    assert set(details) == {"views", "saves"}
    assert "1000" in details["views"][0] and "9" in details["saves"][0]
    with pytest.raises(InvalidInput) as caught:
        _snap(post, bob, ago(hours=1), views=2999, likes=90, saves=9)
    assert list(caught.value.details) == ["views"]
    assert MetricSnapshot.objects.filter(post=post).count() == 2
    post.refresh_from_db()
    assert post.views == 3000


def test_taken_at_before_publication_in_the_future_or_twice_is_refused(creator, make_post, bob, ago):
    post = make_post(creator, published_at=ago(days=5))
    for when in (ago(days=6), timezone.now() + dt.timedelta(minutes=5)):
        with pytest.raises(InvalidInput) as caught:
            _snap(post, bob, when)
        assert list(caught.value.details) == ["taken_at"]
    at = ago(days=1)
    _snap(post, bob, at)
    with pytest.raises(Conflict) as caught:
        _snap(post, bob, at, views=200)
    assert caught.value.code == "snapshot_exists"
    with pytest.raises(InvalidInput) as caught:
        _snap(post, bob, ago(hours=1), views=-1, likes="many")
    assert set(caught.value.details) == {"views", "likes"}
    assert MetricSnapshot.objects.count() == 1


def test_metrics_of_another_stores_post(creator, make_post, dave, ago):
    post = make_post(creator)
    with pytest.raises(NotInScope):
        _snap(post, dave, ago(days=1))


def test_a_batch_is_all_or_nothing_naming_row_and_field(creator, creator_b, make_post, alice, bob, ago):
    post = make_post(creator, published_at=ago(days=5))
    other = make_post(creator_b, url="https://weibo.com/2/B", actor=alice)
    base = {"views": 10, "likes": 1, "saves": 0, "comments": 0, "shares": 0}
    rows = [
        {"post": post.pk, "taken_at": ago(days=1), **base, "views": 100},
        {"post": post.pk, "taken_at": ago(days=3), **base},
        {"post": post.pk, "taken_at": ago(days=2), **base, "views": 200},  # higher than the later one
        {"post": other.pk, "taken_at": ago(days=1), **base},  # another store's, for bob
        {"post": post.pk, "taken_at": ago(hours=2), **base, "views": 300, "likes": -5},
    ]
    with pytest.raises(InvalidInput) as caught:
        posts.record_metrics_batch(actor=bob, rows=rows)
    details = caught.value.details
    assert set(details) == {"2", "3", "4"}
    assert "views" in details["2"] and "post" in details["3"] and "likes" in details["4"]
    assert not MetricSnapshot.objects.exists()
    post.refresh_from_db()
    assert post.views == 0
    good = [rows[1], rows[0], {"post": other.pk, "taken_at": ago(days=1), **base}]
    created = posts.record_metrics_batch(actor=SystemActor("test"), rows=good)
    assert len(created) == 3
    post.refresh_from_db()
    assert post.views == 100
    with pytest.raises(InvalidInput):
        posts.record_metrics_batch(actor=bob, rows=[rows[0]] * 1001)
