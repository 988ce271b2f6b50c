"""The overview's figures against small data worked out by hand, for the operator (every store) and
for store A's manager (store A's creators only), and the overview page showing the same numbers.
The posts' figures read the summary (koc.services.figures), built once the data is in."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from koc import queries
from koc.models import LevelChange, Participation, Topic
from koc.services import figures
from loyalty.orders.models import Order
from loyalty.referrals.models import Referral
from members.models import Member
from tests.koc.screens.conftest import make_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(koc, members, ladder, store_a, store_b):
    a, b = members
    ca, ca2, cb = koc["ca"], koc["ca2"], koc["cb"]
    now = timezone.now()
    topic = Topic.objects.create(title="Blind-box weighing", brief="Weigh it", starts_at=now - dt.timedelta(days=30),
                                 ends_at=now + dt.timedelta(days=30), status="open")
    posts = {
        "p1": make_post(ca, 1, days_ago=5, views=1000, interactions=100, media_value="60.00", topic=topic),
        "p2": make_post(ca, 2, days_ago=40, views=500, interactions=20, media_value="25.00"),
        "p3": make_post(ca2, 3, days_ago=2, views=5000, interactions=900, media_value="1150.00", platform="douyin",
                        viral=True),
        "p4": make_post(cb, 4, days_ago=1, views=2000, interactions=50, media_value="150.00", topic=topic),
    }
    Participation.objects.create(topic=topic, creator=ca)
    Participation.objects.create(topic=topic, creator=cb)
    junior, mid, senior = ladder
    LevelChange.objects.create(creator=ca, from_level=None, to_level=junior, reason="promoted")
    LevelChange.objects.create(creator=ca2, from_level=junior, to_level=senior, reason="promoted")
    LevelChange.objects.create(creator=cb, from_level=mid, to_level=junior, reason="demoted")
    LevelChange.objects.create(creator=cb, from_level=junior, to_level=mid, reason="promoted",
                               at=now - dt.timedelta(days=400))  # before the twelve months shown
    wang = Member.objects.create(name="王五", phone="+8613700000001", home_store=store_a)
    Referral.objects.create(member=wang, referrer=a[0], code="ZHANG0", source="api")
    Referral.objects.create(member=b[1], referrer=a[1], code="ZHANG1", source="api")

    def order(member, n, amount, days_ago, refunded="0", status="paid"):
        Order.objects.create(channel="pos", external_id=f"T{n}", member=member, store=member.home_store,
                             total_amount=Decimal(amount), refunded_amount=Decimal(refunded), status=status,
                             placed_at=now - dt.timedelta(days=days_ago))

    order(a[0], 1, "100.00", 10)
    order(a[0], 2, "50.00", 200)  # within 365 days, not 90
    order(b[0], 3, "70.00", 5)
    order(wang, 4, "300.00", 3, refunded="40.00", status="partially_refunded")
    order(b[1], 5, "80.00", 2)
    order(a[2], 6, "999.00", 1)  # neither a creator nor referred by one
    figures.refresh()
    return {"topic": topic, **posts, **koc}


def test_the_pyramid(data, alice, bob):
    everyone = {r["name"]: r["creators"] for r in queries.pyramid(alice)["rows"]}
    assert everyone == {"Senior": 1, "Intermediate": 0, "Junior": 2}
    assert [r["name"] for r in queries.pyramid(alice)["rows"]] == ["Senior", "Intermediate", "Junior"]
    assert {r["name"]: r["creators"] for r in queries.pyramid(bob)["rows"]} == {"Senior": 1, "Intermediate": 0,
                                                                                 "Junior": 1}


def test_movement_per_month(data, alice, bob):
    this_month = timezone.localtime().date().replace(day=1)
    rows = {r["month"]: r for r in queries.movement(alice)}
    assert len(rows) == 12
    assert (rows[this_month]["promoted"], rows[this_month]["demoted"]) == (2, 1)
    assert sum(r["promoted"] for r in rows.values()) == 2  # the change 400 days ago is left out
    mine = {r["month"]: r for r in queries.movement(bob)}
    assert (mine[this_month]["promoted"], mine[this_month]["demoted"]) == (2, 0)


def test_posts_and_views_per_month(data, alice):
    expected_posts, expected_views = Counter(), Counter()
    for key in ("p1", "p2", "p3", "p4"):
        post = data[key]
        month = timezone.localtime(post.published_at).date().replace(day=1)
        expected_posts[month] += 1
        expected_views[month] += post.views
    rows = {r["month"]: r for r in queries.posts_by_month(alice) if r["posts"]}
    assert {m: r["posts"] for m, r in rows.items()} == dict(expected_posts)
    assert {m: r["views"] for m, r in rows.items()} == dict(expected_views)


def test_media_value_beside_the_cost_of_ads(data, alice, bob):
    media = queries.media_value(alice, days=30)
    rows = {r["platform"]: r for r in media["rows"]}
    red = rows["xiaohongshu"]
    assert (red["posts"], red["views"], red["interactions"], red["media_value"]) == (2, 3000, 150, Decimal("210.00"))
    assert red["ad_cost"] == Decimal("300.00")  # 3000 / 1000 × 50 + 150 × 1
    assert rows["douyin"]["media_value"] == Decimal("1150.00") and rows["douyin"]["ad_cost"] is None
    assert media["totals"]["posts"] == 3 and media["totals"]["views"] == 8000
    assert queries.media_value(bob, days=30)["totals"]["views"] == 6000  # p1 and p3


def test_top_posts_and_creators(data, alice, bob):
    ids = lambda rows: [r.pk for r in rows]  # noqa: E731
    assert ids(queries.top_posts(alice, days=30)) == [data["p3"].pk, data["p1"].pk, data["p4"].pk]
    assert ids(queries.top_posts(alice, days=30, by="media_value")) == [data["p3"].pk, data["p4"].pk, data["p1"].pk]
    assert data["p2"].pk in ids(queries.top_posts(alice, days=90))
    top = queries.top_creators(alice, days=90)
    assert [(c.pk, c.post_count, c.interactions) for c in top] == [
        (data["ca2"].pk, 1, 900), (data["ca"].pk, 2, 120), (data["cb"].pk, 1, 50)]
    assert [c.pk for c in queries.top_creators(bob, days=90)] == [data["ca2"].pk, data["ca"].pk]
    assert [c.post_count for c in queries.top_creators(alice, days=30) if c.pk == data["ca"].pk] == [1]


def test_the_topic_leaderboard(data, alice, bob):
    [row] = queries.topic_leaderboard(alice)
    assert (row["topic"].pk, row["posts"], row["views"], row["participants"]) == (data["topic"].pk, 2, 3000, 2)
    [mine] = queries.topic_leaderboard(bob)
    assert (mine["posts"], mine["views"], mine["participants"]) == (1, 1000, 1)


def test_purchases_by_creators_and_the_members_they_brought(data, alice, bob):
    p = queries.purchases(alice, days=90)
    assert (p["own"]["orders"], p["own"]["buyers"], p["own"]["net"]) == (2, 2, Decimal("170.00"))
    assert (p["referred"]["orders"], p["referred"]["net"], p["referred"]["members"]) == (2, Decimal("340.00"), 2)
    assert [(r["creator"].pk, r["net"]) for r in p["top"]] == [(data["ca"].pk, Decimal("260.00")),
                                                              (data["ca2"].pk, Decimal("80.00"))]
    assert queries.purchases(alice, days=365)["own"]["net"] == Decimal("220.00")
    mine = queries.purchases(bob, days=90)
    assert (mine["own"]["orders"], mine["own"]["net"], mine["referred"]["net"]) == (1, Decimal("100.00"),
                                                                                     Decimal("340.00"))


def test_the_overview_page_shows_them(data, bob):
    client = Client()
    client.force_login(bob)
    page = client.get("/koc/?days=30").content.decode()
    senior = page.split('data-testid="pyramid-3"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in senior
    assert 'data-testid="media-xiaohongshu"' in page
    assert f'data-testid="top-post-{data["p3"].pk}"' in page and f'data-testid="top-post-{data["p4"].pk}"' not in page
    assert "CPM ¥50" in page  # the formula in words, with the operator's rate
    own = page.split('data-testid="purchases-own"')[1].split("</tr>")[0]
    assert "100.00" in own
