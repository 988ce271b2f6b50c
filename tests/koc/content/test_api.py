"""The KOC content API: create, list and filter, the error shape, scoping across stores, strict
bodies, idempotent retries and lists that do not query per row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from koc.models import Application, Creator, MetricSnapshot, Post, Topic
from loyalty.points.models import MemberPoints, PointsPolicy
from members.models import Member

API = "/api/v1/koc"


def iso(value: dt.datetime) -> str:
    return value.isoformat()


@pytest.fixture
def as_user(api_client):
    def login(user):
        api_client.force_authenticate(user)
        return api_client

    return login


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert set(body) == {"status", "code", "message", "details"} and body["status"] == status
    return body


def test_creators_list_filter_retrieve_and_patch(as_user, bob, carol, creator, creator_b, levels, alice):
    client = as_user(bob)
    rows = client.get(f"{API}/creators/").json()["results"]
    assert [r["id"] for r in rows] == [creator.pk]  # store B's creator is not bob's
    assert rows[0]["store"] == "SH01" and rows[0]["level_name"] == "Junior"
    alice_client = as_user(alice)
    assert len(alice_client.get(f"{API}/creators/").json()["results"]) == 2
    assert [r["id"] for r in alice_client.get(f"{API}/creators/", {"store": "BJ01"}).json()["results"]] == \
        [creator_b.pk]
    assert alice_client.get(f"{API}/creators/", {"status": "paused"}).json()["results"] == []
    assert len(alice_client.get(f"{API}/creators/", {"level": levels[0].pk}).json()["results"]) == 2
    error(alice_client.get(f"{API}/creators/", {"tier": 1}), 400)
    client = as_user(bob)
    response = client.patch(f"{API}/creators/{creator.pk}/", {"bio": "Runs at dawn", "status": "paused"})
    assert response.status_code == 200 and response.json()["bio"] == "Runs at dawn"
    body = error(client.patch(f"{API}/creators/{creator.pk}/", {"mentor": creator.pk}), 400)
    assert "mentor" in body["details"]
    body = error(client.patch(f"{API}/creators/{creator.pk}/", {"biography": "x"}), 400)
    assert "biography" in body["details"]
    error(as_user(carol).patch(f"{API}/creators/{creator.pk}/", {"bio": "x"}), 403)  # clerks read
    assert as_user(carol).get(f"{API}/creators/{creator.pk}/").status_code == 200


def test_another_stores_creator_and_post_are_404(as_user, dave, creator, make_post):
    post = make_post(creator)
    client = as_user(dave)
    for url in (f"{API}/creators/{creator.pk}/", f"{API}/creators/{creator.pk}/accounts/", f"{API}/posts/{post.pk}/",
                f"{API}/posts/{post.pk}/metrics/"):
        error(client.get(url), 404)
    error(client.post(f"{API}/posts/{post.pk}/metrics/", {"taken_at": iso(timezone.now()), "views": 1, "likes": 0,
                                                          "saves": 0, "comments": 0, "shares": 0}), 404)
    error(client.post(f"{API}/posts/", {"creator": creator.pk, "url": "https://weibo.com/1/Z",
                                        "published_at": iso(timezone.now())}), 404)
    assert client.get(f"{API}/posts/").json()["results"] == []


def test_accounts(as_user, bob, creator):
    client = as_user(bob)
    url = f"{API}/creators/{creator.pk}/accounts/"
    response = client.post(url, {"platform": "douyin", "handle": "coco", "followers": 30})
    assert response.status_code == 201, response.content
    account = response.json()
    assert (account["platform"], account["creator"]) == ("douyin", creator.pk)
    assert error(client.post(url, {"platform": "douyin", "handle": "other"}), 409)["code"] == "account_exists"
    assert "platform" in error(client.post(url, {"platform": "myspace", "handle": "x"}), 400)["details"]
    assert client.patch(f"{url}{account['id']}/", {"followers": 45}).json()["followers"] == 45
    assert [a["id"] for a in client.get(url, {"platform": "douyin"}).json()["results"]] == [account["id"]]
    assert client.delete(f"{url}{account['id']}/").status_code == 204
    assert client.get(url).json()["results"] == []


def test_applications_approve_and_reject(as_user, bob, carol, members):
    client = as_user(bob)
    response = client.post(f"{API}/applications/", {"member": members[0][1].pk, "platforms": ["xiaohongshu"],
                                                    "motivation": "I love it"}, HTTP_IDEMPOTENCY_KEY="apply-1")
    assert response.status_code == 201, response.content
    application = response.json()
    again = client.post(f"{API}/applications/", {"member": members[0][1].pk, "platforms": ["xiaohongshu"],
                                                 "motivation": "I love it"}, HTTP_IDEMPOTENCY_KEY="apply-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true" and again.json() == application
    body = error(client.post(f"{API}/applications/", {"member": members[0][1].pk}), 409)
    assert body["code"] == "application_pending" and body["details"]["application"] == application["id"]
    error(as_user(carol).post(f"{API}/applications/{application['id']}/approve/", {}), 403)
    assert Application.objects.get().state == "pending"
    client = as_user(bob)
    response = client.post(f"{API}/applications/{application['id']}/approve/", {})
    assert response.status_code == 200, response.content
    assert response.json()["member"] == members[0][1].pk and Creator.objects.filter(member=members[0][1]).exists()
    other = client.post(f"{API}/applications/", {"member": members[0][2].pk}).json()
    assert "reason" in error(client.post(f"{API}/applications/{other['id']}/reject/", {}), 400)["details"]
    rejected = client.post(f"{API}/applications/{other['id']}/reject/", {"reason": "Not yet"}).json()
    assert rejected["state"] == "rejected"
    assert [a["id"] for a in client.get(f"{API}/applications/", {"state": "rejected"}).json()["results"]] == \
        [other["id"]]


def test_candidates(as_user, bob, alice, members):
    from loyalty.orders.models import Order

    Order.objects.create(channel="pos", external_id="c1", member=members[0][1], store=members[0][1].home_store,
                         total_amount=Decimal("300"), placed_at=timezone.now() - dt.timedelta(days=2))
    rows = as_user(bob).get(f"{API}/candidates/").json()
    assert [(r["member"], r["store"], r["total"]) for r in rows] == [(members[0][1].pk, "SH01", "40.00")]
    assert as_user(alice).get(f"{API}/candidates/", {"store": "BJ01"}).json() == []
    error(as_user(alice).get(f"{API}/candidates/", {"limit": "0"}), 400)
    error(as_user(alice).get(f"{API}/candidates/", {"store": "NOPE"}), 400)
    error(as_user(alice).get(f"{API}/candidates/", {"top": "3"}), 400)


def _post_body(creator, url="https://www.xiaohongshu.com/explore/65f0aa?xsec_token=1", **extra):
    return {"creator": creator.pk, "url": url, "published_at": iso(timezone.now() - dt.timedelta(days=2)), **extra}


def test_posts_create_the_same_twice_and_bad_links(as_user, carol, creator):
    client = as_user(carol)
    first = _post_body(creator)
    response = client.post(f"{API}/posts/", first, HTTP_IDEMPOTENCY_KEY="post-1")
    assert response.status_code == 201, response.content
    post = response.json()
    assert (post["platform"], post["url_key"], post["source"]) == ("xiaohongshu", "xiaohongshu.com/explore/65f0aa",
                                                                   "api")
    replay = client.post(f"{API}/posts/", first, HTTP_IDEMPOTENCY_KEY="post-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    body = error(client.post(f"{API}/posts/", _post_body(creator, url="http://xiaohongshu.com/explore/65f0aa/")), 409)
    assert body["code"] == "post_exists" and body["details"]["post"] == post["id"]
    assert "url" in error(client.post(f"{API}/posts/", _post_body(creator, url="see my post")), 400)["details"]
    assert "url" in error(client.post(f"{API}/posts/", _post_body(creator, url="https://example.com/a")),
                          400)["details"]
    assert "colour" in error(client.post(f"{API}/posts/", _post_body(creator, colour="red")), 400)["details"]
    assert "published_at" in error(client.post(f"{API}/posts/", _post_body(
        creator, url="https://weibo.com/1/B", published_at=iso(timezone.now() + dt.timedelta(days=1)))),
        400)["details"]
    assert Post.objects.count() == 1


def test_posts_list_filters_and_ordering(as_user, bob, alice, creator, creator_b, make_post, ago):
    small = make_post(creator, published_at=ago(days=1))
    big = make_post(creator, published_at=ago(days=5), url="https://www.douyin.com/video/1")
    make_post(creator_b, actor=alice)
    Post.objects.filter(pk=small.pk).update(interactions=10, media_value=5, viral=False)
    Post.objects.filter(pk=big.pk).update(interactions=900, media_value=50, viral=True)
    client = as_user(bob)

    def ids(**params):
        response = client.get(f"{API}/posts/", params)
        assert response.status_code == 200, response.content
        return [p["id"] for p in response.json()["results"]]

    assert ids() == [small.pk, big.pk]
    assert ids(ordering="-interactions") == [big.pk, small.pk]
    assert ids(ordering="media_value") == [small.pk, big.pk]
    assert ids(platform="douyin") == [big.pk] and ids(viral="true") == [big.pk]
    assert ids(creator=creator.pk, published_after=iso(ago(days=2))) == [small.pk]
    assert ids(published_before=iso(ago(days=2))) == [big.pk]
    assert "ordering" in error(client.get(f"{API}/posts/", {"ordering": "url"}), 400)["details"]
    error(client.get(f"{API}/posts/", {"viral": "yes"}), 400)
    assert as_user(bob).get(f"{API}/posts/{small.pk}/").json()["id"] == small.pk


def test_metrics_one_and_going_down(as_user, carol, creator, make_post, ago, rates):
    post = make_post(creator, published_at=ago(days=5))
    client = as_user(carol)
    url = f"{API}/posts/{post.pk}/metrics/"
    counters = {"views": 5000, "likes": 300, "saves": 120, "comments": 40, "shares": 10}
    at = iso(ago(days=1))
    response = client.post(url, {"taken_at": at, **counters}, HTTP_IDEMPOTENCY_KEY="m-1")
    assert response.status_code == 201, response.content
    assert client.post(url, {"taken_at": at, **counters}, HTTP_IDEMPOTENCY_KEY="m-1")["Idempotent-Replayed"] == "true"
    detail = client.get(f"{API}/posts/{post.pk}/").json()
    assert (detail["interactions"], detail["interaction_rate"], detail["media_value"]) == (700, "14.00", "950.00")
    body = error(client.post(url, {"taken_at": iso(ago(hours=1)), **counters, "likes": 200}), 400)
    assert list(body["details"]) == ["likes"] and "300" in body["details"]["likes"][0]
    assert error(client.post(url, {"taken_at": at, **counters}), 409)["code"] == "snapshot_exists"
    assert "views" in error(client.post(url, {"taken_at": iso(ago(hours=1)), **counters, "views": "5000"}),
                            400)["details"]
    assert len(client.get(url).json()["results"]) == 1 and MetricSnapshot.objects.count() == 1


def test_metrics_batch(as_user, carol, creator, make_post, ago):
    post = make_post(creator, published_at=ago(days=5))
    client = as_user(carol)
    row = {"post": post.pk, "views": 100, "likes": 5, "saves": 0, "comments": 0, "shares": 0}
    bad = [{**row, "taken_at": iso(ago(days=2))}, {**row, "taken_at": iso(ago(days=1)), "views": 50},
           {**row, "taken_at": "yesterday"}]
    body = error(client.post(f"{API}/metrics/batch/", {"rows": bad}), 400)
    assert set(body["details"]) == {"2"} and "taken_at" in body["details"]["2"]
    body = error(client.post(f"{API}/metrics/batch/", {"rows": bad[:2]}), 400)
    assert set(body["details"]) == {"1"} and "views" in body["details"]["1"]
    assert not MetricSnapshot.objects.exists()
    good = {"rows": [bad[0], {**row, "taken_at": iso(ago(days=1)), "views": 150}]}
    response = client.post(f"{API}/metrics/batch/", good, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert response.status_code == 201 and response.json()["recorded"] == 2
    assert client.post(f"{API}/metrics/batch/", good, HTTP_IDEMPOTENCY_KEY="batch-1")["Idempotent-Replayed"] == "true"
    assert MetricSnapshot.objects.count() == 2 and Post.objects.get(pk=post.pk).views == 150
    error(client.post(f"{API}/metrics/batch/", {"rows": [row] * 1001}), 400)


def test_topics_join_participations_reward(as_user, alice, bob, carol, creator, make_post):
    now = timezone.now()
    body = {"title": "Summer", "brief": "Show your drink", "starts_at": iso(now - dt.timedelta(days=1)),
            "ends_at": iso(now + dt.timedelta(days=9)), "platforms": ["douyin"], "reward_points": 50}
    error(as_user(bob).post(f"{API}/topics/", body), 403)
    late = {**body, "ends_at": iso(now - dt.timedelta(days=2))}
    assert list(error(as_user(alice).post(f"{API}/topics/", late), 400)["details"]) == ["ends_at"]
    assert not Topic.objects.exists()
    client = as_user(alice)
    topic = client.post(f"{API}/topics/", body).json()
    assert client.post(f"{API}/topics/{topic['id']}/open/").json()["status"] == "open"
    assert client.patch(f"{API}/topics/{topic['id']}/", {"reward_points": 80}).json()["reward_points"] == 80
    assert [t["id"] for t in as_user(carol).get(f"{API}/topics/", {"platform": "douyin"}).json()["results"]] == \
        [topic["id"]]
    client = as_user(carol)
    joined = client.post(f"{API}/topics/{topic['id']}/join/", {"creator": creator.pk})
    assert joined.status_code == 201, joined.content
    participations = client.get(f"{API}/topics/{topic['id']}/participations/").json()["results"]
    assert [p["creator"] for p in participations] == [creator.pk]
    make_post(creator, url="https://www.douyin.com/video/77", topic_id=topic["id"])
    PointsPolicy.objects.create(pk=1, points_per_unit=1, expiry_mode="never")
    reward_url = f"{API}/topics/{topic['id']}/participations/{joined.json()['id']}/reward/"
    error(as_user(carol).post(reward_url), 403)
    client = as_user(alice)
    assert client.post(reward_url, HTTP_IDEMPOTENCY_KEY="r-1").status_code == 200
    assert client.post(reward_url).status_code == 200  # rewarding again answers the first reward
    assert MemberPoints.objects.get(pk=creator.member_id).balance == 80
    assert client.post(f"{API}/topics/{topic['id']}/close/").json()["status"] == "closed"


def test_repost(as_user, bob, dave, creator, make_post):
    post = make_post(creator)
    response = as_user(bob).post(f"{API}/posts/{post.pk}/repost/", {}, HTTP_IDEMPOTENCY_KEY="rp-1")
    assert response.status_code == 201 and response.json()["by"] == "bob"
    as_user(bob).post(f"{API}/posts/{post.pk}/repost/", {}, HTTP_IDEMPOTENCY_KEY="rp-1")
    assert post.reposts.count() == 1 and Post.objects.get(pk=post.pk).reposted_at is not None
    error(as_user(dave).post(f"{API}/posts/{post.pk}/repost/", {}), 404)
    assert "community" in error(as_user(bob).post(f"{API}/posts/{post.pk}/repost/", {"community": 9999}),
                                400)["details"]


def test_settings_and_rates(as_user, alice, bob, creator, make_post):
    post = make_post(creator, url="https://weibo.com/1/R")
    Post.objects.filter(pk=post.pk).update(views=2000, likes=10)
    assert as_user(bob).get(f"{API}/settings/current/").json()["like_weight"] == "1.00"
    error(as_user(bob).patch(f"{API}/settings/current/", {"like_weight": "2.00"}), 403)
    client = as_user(alice)
    response = client.patch(f"{API}/settings/current/", {"like_weight": "2.00"})
    assert response.status_code == 200 and "likes × 2" in response.json()["formula"]
    assert Post.objects.get(pk=post.pk).interactions == 20
    assert "like_weight" in error(client.patch(f"{API}/settings/current/", {"like_weight": 2}), 400)["details"]
    assert "window_days" in error(client.patch(f"{API}/settings/current/", {"window_days": 1}), 400)["details"]
    response = client.post(f"{API}/rates/", {"platform": "weibo", "cpm": "10.00", "cpe": "0.50"})
    assert response.status_code == 200, response.content
    assert Post.objects.get(pk=post.pk).media_value == Decimal("30.00")  # 2 × 10 + 20 × 0.5
    response = client.put(f"{API}/rates/weibo/", {"cpm": "20.00"})
    assert response.status_code == 200 and response.json()["cpe"] == "0.00"
    assert Post.objects.get(pk=post.pk).media_value == Decimal("40.00")
    assert [r["platform"] for r in as_user(bob).get(f"{API}/rates/").json()["results"]] == ["weibo"]  # bob reads
    error(as_user(bob).put(f"{API}/rates/weibo/", {"cpm": "1.00"}), 403)
    client = as_user(alice)
    error(client.put(f"{API}/rates/myspace/", {"cpm": "1.00"}), 400)


@pytest.fixture
def many(store_a, levels, alice):
    members = Member.objects.bulk_create(Member(name=f"会员{i}", home_store=store_a) for i in range(30))
    creators = Creator.objects.bulk_create(Creator(member=m, level=levels[i % 3]) for i, m in enumerate(members))
    now = timezone.now()
    Post.objects.bulk_create(Post(creator=c, platform="weibo", url=f"https://weibo.com/1/{c.pk}", url_key=f"w{c.pk}",
                                  published_at=now, submitted_by=alice) for c in creators)
    Application.objects.bulk_create(Application(member=m, proposed_by=alice) for m in members[:20])
    Topic.objects.bulk_create(Topic(title=f"T{i}", brief="b", starts_at=now, ends_at=now + dt.timedelta(days=1),
                                    created_by=alice) for i in range(20))
    return creators


@pytest.mark.parametrize("path", ["creators/", "posts/", "applications/", "topics/", "rates/"])
def test_lists_do_not_query_per_row(as_user, bob, many, path, django_assert_max_num_queries):
    client = as_user(bob)
    with django_assert_max_num_queries(4):
        response = client.get(f"{API}/{path}")
    assert response.status_code == 200
    if path != "rates/":
        assert len(response.json()["results"]) >= 20
