"""The overview's summary (koc.services.figures): the same answers as counting the posts live, for
the operator and a store's manager, every window and ranking; a refresh after new posts changes
them and nothing changes before it; a summary never built is built at once for few posts; the
page says as of when; the task refreshes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from koc import queries
from koc.models import CreatorWindow, PostDay, Topic
from koc.services import figures
from koc.tasks import refresh_figures
from tests.koc.screens.conftest import koc, ladder, make_post  # noqa: F401 (the screens' fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def posts(koc):  # noqa: F811 (the screens' fixture)
    ca, ca2, cb = koc["ca"], koc["ca2"], koc["cb"]
    now = timezone.now()
    topic = Topic.objects.create(title="Weighing", brief="Weigh it", starts_at=now - dt.timedelta(days=400),
                                 ends_at=now + dt.timedelta(days=30), status="open")
    spread = [1, 3, 8, 14, 17, 25, 29, 33, 44, 58, 61, 75, 88, 95, 120, 160, 200, 240, 300, 333, 364, 380, 500]
    for i, days_ago in enumerate(spread):
        creator = (ca, ca2, cb)[i % 3]
        make_post(creator, i, days_ago=days_ago, views=100 * (i + 1), interactions=7 * (i % 5 + 1) + i,
                  media_value=f"{i * 3 + 0.5:.2f}", platform=("xiaohongshu", "douyin", "weibo")[i % 2 + (i % 7 == 0)],
                  topic=topic if i % 4 == 0 else None, viral=i % 6 == 0)
    return {"topic": topic, **koc}


def _creators(rows):
    return [(c.pk, c.post_count, c.interactions, c.views, c.media_value) for c in rows]


def _media(media):
    return [(r["platform"], r["posts"], r["views"], r["interactions"], r["media_value"], r["ad_cost"])
            for r in media["rows"]], media["totals"]


def _topics(rows):
    return [(r["topic"].pk, r["posts"], r["views"], r["interactions"], r["media_value"]) for r in rows]


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_the_summary_equals_counting_live(posts, viewer, request):
    user = request.getfixturevalue(viewer)
    figures.refresh()
    assert queries.posts_by_month(user) == queries.posts_by_month(user, live=True)
    assert sum(r["posts"] for r in queries.posts_by_month(user)) > 0
    assert _topics(queries.topic_leaderboard(user)) == _topics(queries.topic_leaderboard(user, live=True))
    for days in queries.WINDOWS:
        assert _media(queries.media_value(user, days=days)) == _media(queries.media_value(user, days=days, live=True))
        for by in ("interactions", "media_value"):
            summarised = _creators(queries.top_creators(user, days=days, by=by))
            assert summarised == _creators(queries.top_creators(user, days=days, by=by, live=True)), (days, by)
            assert summarised


def test_top_creators_are_the_windows_as_at_the_refresh(posts, alice):
    """The windows the refresh counted are the ones of its day: a refresh a month ago counted the
    window ending then, and reads the same as counting live as at then."""
    month_ago = timezone.now() - dt.timedelta(days=31)
    figures.refresh(now=month_ago)
    assert {w.start for w in CreatorWindow.objects.filter(days=30)} == {queries.since(30, month_ago).date()}
    assert (_creators(queries.top_creators(alice, days=30))
            == _creators(queries.top_creators(alice, days=30, now=month_ago, live=True)))
    assert (_creators(queries.top_creators(alice, days=30))
            != _creators(queries.top_creators(alice, days=30, live=True)))


def test_a_refresh_after_new_posts_changes_the_figures(posts, alice, bob):
    figures.refresh()
    before = queries.media_value(alice, days=30)["totals"]
    month = sum(r["posts"] for r in queries.posts_by_month(bob))
    make_post(posts["ca"], 99, days_ago=2, views=10_000, interactions=5_000, media_value="999.00")
    assert queries.media_value(alice, days=30)["totals"] == before  # as of the last refresh
    figures.refresh()
    after = queries.media_value(alice, days=30)["totals"]
    assert (after["posts"], after["views"], after["media_value"]) == (
        before["posts"] + 1, before["views"] + 10_000, before["media_value"] + 999)
    assert sum(r["posts"] for r in queries.posts_by_month(bob)) == month + 1  # store A's creator
    assert queries.top_creators(alice, days=30)[0].pk == posts["ca"].pk


def test_a_store_manager_reads_their_store_only(posts, alice, bob):
    figures.refresh()
    store_a = {c.pk for c in (posts["ca"], posts["ca2"])}
    assert {c.pk for c in queries.top_creators(bob, days=365)} == store_a
    assert len(queries.top_creators(alice, days=365)) == 3
    everyone = sum(r["posts"] for r in queries.posts_by_month(alice))
    mine = sum(r["posts"] for r in queries.posts_by_month(bob))
    assert 0 < mine < everyone


def test_a_refresh_replaces_the_rows_and_stamps_them(posts):
    first = figures.refresh()
    again = figures.refresh(now=timezone.now() + dt.timedelta(minutes=10))
    assert (first["days"], first["creator_windows"]) == (again["days"], again["creator_windows"])
    assert PostDay.objects.count() == again["days"] and CreatorWindow.objects.count() == again["creator_windows"]
    assert figures.as_of() == again["at"]


def test_a_summary_never_built_is_built_at_once_for_few_posts(posts, alice):
    assert figures.as_of() is None
    page = queries.overview(alice, days=30)
    assert page["as_of"] is not None and PostDay.objects.exists()
    assert page["media"] == queries.media_value(alice, days=30, live=True) | {"since": page["media"]["since"]}


def test_many_posts_and_no_summary_are_counted_live(posts, alice):
    assert not figures.few_posts(limit=5)
    assert figures.few_posts(limit=1000)


def test_the_page_says_as_of_when(posts, bob):
    stamp = timezone.now() - dt.timedelta(minutes=7)
    figures.refresh(now=stamp)
    client = Client()
    client.force_login(bob)
    page = client.get("/koc/?days=90").content.decode()
    note = page.split('data-testid="counted-at"')[1].split("</p>")[0]
    assert timezone.localtime(stamp).strftime("%Y-%m-%d %H:%M") in note
    assert queries.since(90).strftime("%Y-%m-%d") in note


def test_the_task_refreshes_the_summary(posts):
    rows = refresh_figures.apply().get()
    assert rows == PostDay.objects.count() + CreatorWindow.objects.count() > 0
