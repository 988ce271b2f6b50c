"""The KOC screens through Django's client, per role: alice (operator) sees every store's creators,
bob and carol (store A) only store A's; a store-B creator's pages are 404 for carol; carol records a
post but cannot approve an application; forms refuse bad input on the field, changing nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from koc.models import Account, Application, Creator, LevelChange, MetricSnapshot, Post
from tests.koc.screens.conftest import make_post

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PAGES = ["/koc/", "/koc/creators/", "/koc/applications/", "/koc/candidates/", "/koc/posts/", "/koc/topics/",
         "/koc/levels/", "/koc/launches/", "/koc/settings/", "/koc/m/post/", "/koc/posts/new/"]


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_every_page_opens_for_every_role(koc, who, request):
    user = request.getfixturevalue(who)
    client = client_for(user)
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)


def test_creator_lists_are_scoped(koc, alice, bob, carol):
    ca, cb = koc["ca"], koc["cb"]
    everyone = client_for(alice).get("/koc/creators/").content.decode()
    assert f'data-testid="creator-{ca.pk}"' in everyone and f'data-testid="creator-{cb.pk}"' in everyone
    for user in (bob, carol):
        page = client_for(user).get("/koc/creators/").content.decode()
        assert f'data-testid="creator-{ca.pk}"' in page and f'data-testid="creator-{cb.pk}"' not in page


def test_creator_list_filters(koc, alice, ladder):
    ca, ca2, cb = koc["ca"], koc["ca2"], koc["cb"]
    Account.objects.create(creator=ca2, platform="douyin", handle="zhang1")
    client = client_for(alice)
    senior = client.get(f"/koc/creators/?level={ladder[2].pk}").content.decode()
    assert f'data-testid="creator-{ca2.pk}"' in senior and f'data-testid="creator-{ca.pk}"' not in senior
    store_b = client.get("/koc/creators/?store=BJ01").content.decode()
    assert f'data-testid="creator-{cb.pk}"' in store_b and f'data-testid="creator-{ca.pk}"' not in store_b
    douyin = client.get("/koc/creators/?platform=douyin").content.decode()
    assert f'data-testid="creator-{ca2.pk}"' in douyin and f'data-testid="creator-{ca.pk}"' not in douyin
    named = client.get("/koc/creators/?q=李").content.decode()
    assert f'data-testid="creator-{cb.pk}"' in named and f'data-testid="creator-{ca.pk}"' not in named


def test_a_store_b_creator_is_404_for_carol(koc, carol):
    cb = koc["cb"]
    post = make_post(cb, 1, views=10)
    client = client_for(carol)
    assert client.get(f"/koc/creators/{cb.pk}/").status_code == 404
    assert client.get(f"/koc/posts/{post.pk}/").status_code == 404
    assert client.post(f"/koc/posts/{post.pk}/metrics/", {"views": 5}).status_code == 404
    assert client.get(f"/koc/creators/{koc['ca'].pk}/").status_code == 200


def test_the_creator_page(koc, bob, ladder):
    ca, ca2 = koc["ca"], koc["ca2"]
    ca.mentor = ca2
    ca.window_posts = 3
    ca.save()
    post = make_post(ca, 1, views=1200, interactions=90, media_value="150.00")
    LevelChange.objects.create(creator=ca, from_level=None, to_level=ladder[0], reason="promoted", posts=1)
    page = client_for(bob).get(f"/koc/creators/{ca.pk}/").content.decode()
    assert 'data-testid="level-name">Junior<' in page
    assert f'data-testid="post-{post.pk}"' in page and "1,200" in page
    assert 'data-testid="need-min_posts"' in page  # what Intermediate needs: 5 posts, 3 counted
    assert ca2.member.name in page  # the mentor
    assert "promoted" in page
    assert 'data-testid="edit-form"' in page


def test_carol_records_a_post_but_cannot_approve(koc, carol):
    ca, application = koc["ca"], koc["application"]
    client = client_for(carol)
    page = client.get("/koc/applications/").content.decode()
    assert f'data-testid="application-{application.pk}"' in page
    assert f'data-testid="approve-{application.pk}"' not in page
    assert client.post(f"/koc/applications/{application.pk}/approve/", {}).status_code == 403
    assert Application.objects.get(pk=application.pk).state == "pending"
    when = timezone.localtime() - dt.timedelta(hours=2)
    response = client.post("/koc/posts/new/", {
        "creator": ca.pk, "url": "https://www.xiaohongshu.com/explore/abc123?xsec_token=zz", "platform": "",
        "published_at": when.strftime("%Y-%m-%dT%H:%M"), "title": "Blind-box weighing"})
    post = Post.objects.get(creator=ca)
    assert response.status_code == 302 and response["Location"] == f"/koc/posts/{post.pk}/"
    assert post.platform == "xiaohongshu" and post.submitted_by == carol
    again = client.post("/koc/posts/new/", {
        "creator": ca.pk, "url": "https://xiaohongshu.com/explore/abc123", "platform": "",
        "published_at": when.strftime("%Y-%m-%dT%H:%M")})
    assert again.status_code == 400 and "Already recorded as post" in again.content.decode()
    assert Post.objects.count() == 1


def test_an_operator_approves_and_rejects(koc, alice, members):
    a, _b = members
    application = koc["application"]
    client = client_for(alice)
    response = client.post(f"/koc/applications/{application.pk}/approve/", {"mentor": koc["ca2"].pk})
    creator = Creator.objects.get(member=a[2])
    assert response.status_code == 302 and response["Location"] == f"/koc/creators/{creator.pk}/"
    assert creator.mentor_id == koc["ca2"].pk
    twice = client.post(f"/koc/applications/{application.pk}/approve/", {})
    assert twice.status_code == 302 and Creator.objects.filter(member=a[2]).count() == 1
    other = Application.objects.create(member=members[1][1])
    client.post(f"/koc/applications/{other.pk}/reject/", {"reason": ""})
    assert Application.objects.get(pk=other.pk).state == "pending"  # a reason is needed
    client.post(f"/koc/applications/{other.pk}/reject/", {"reason": "No public account yet"})
    assert Application.objects.get(pk=other.pk).state == "rejected"


def test_bad_input_is_shown_on_its_field_and_changes_nothing(koc, alice):
    ca = koc["ca"]
    client = client_for(alice)
    when = (timezone.localtime() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    unknown = client.post("/koc/posts/new/", {"creator": ca.pk, "url": "https://example.com/p/1", "published_at": when})
    assert unknown.status_code == 400
    assert 'data-testid="field-url"' in unknown.content.decode()
    assert "errorlist" in unknown.content.decode().split('data-testid="field-url"')[1].split("</div>")[0]
    future = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    later = client.post("/koc/posts/new/", {"creator": ca.pk, "url": "https://www.douyin.com/video/1",
                                             "published_at": future})
    assert later.status_code == 400 and "in the future" in later.content.decode()
    assert not Post.objects.exists()

    post = make_post(ca, 1)
    taken = timezone.localtime() - dt.timedelta(minutes=30)
    ok = client.post(f"/koc/posts/{post.pk}/metrics/", {
        "taken_at": taken.strftime("%Y-%m-%dT%H:%M"), "views": 1000, "likes": 50, "saves": 10, "comments": 5,
        "shares": 2, "followers_gained": 3})
    assert ok.status_code == 302
    lower = client.post(f"/koc/posts/{post.pk}/metrics/", {
        "taken_at": (taken + dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"), "views": 900, "likes": 50,
        "saves": 10, "comments": 5, "shares": 2, "followers_gained": 3})
    assert lower.status_code == 400
    body = lower.content.decode()
    assert "errorlist" in body.split('data-testid="field-views"')[1].split("</div>")[0]
    assert MetricSnapshot.objects.filter(post=post).count() == 1
    assert Post.objects.get(pk=post.pk).views == 1000

    topic = client.post("/koc/topics/new/", {"title": "Weighing", "brief": "Weigh a blind box",
                                             "starts_at": "2026-05-02T10:00", "ends_at": "2026-05-01T10:00",
                                             "reward_points": 0})
    assert topic.status_code == 400
    assert "errorlist" in topic.content.decode().split('data-testid="field-ends_at"')[1].split("</div>")[0]


def test_the_ladder_is_saved_as_a_whole_with_errors_per_level(koc, alice, ladder):
    client = client_for(alice)
    rows = {"rows": "3"}
    for i, level in enumerate(ladder):
        rows.update({f"level-{i}-id": level.pk, f"level-{i}-rank": level.rank, f"level-{i}-name": level.name,
                     f"level-{i}-min_posts": level.min_posts, f"level-{i}-min_viral": level.min_viral,
                     f"level-{i}-min_interactions": level.min_interactions})
    rows["level-1-min_posts"] = "20"  # intermediate asks more posts than senior
    refused = client.post("/koc/levels/save/", rows)
    assert refused.status_code == 400
    assert 'data-testid="level-row-1" class="b-invalid"' in refused.content.decode() or \
        'data-testid="level-row-2" class="b-invalid"' in refused.content.decode()
    assert sorted(type(ladder[0]).objects.values_list("min_posts", flat=True)) == [1, 5, 10]
    rows["level-1-min_posts"] = "6"
    saved = client.post("/koc/levels/save/", rows)
    assert saved.status_code == 302
    assert type(ladder[0]).objects.get(pk=ladder[1].pk).min_posts == 6


def test_only_operators_change_the_programme(koc, bob):
    client = client_for(bob)
    page = client.get("/koc/settings/").content.decode()
    assert 'data-testid="programme-form"' not in page
    assert client.post("/koc/settings/", {"what": "rate", "platform": "douyin", "cpm": "10"}).status_code == 403
    assert client.post("/koc/levels/recalculate/").status_code == 403


def test_settings_rate_with_bad_input(koc, alice):
    client = client_for(alice)
    bad = client.post("/koc/settings/", {"what": "rate", "platform": "douyin", "cpm": "-3", "cpe": "0"})
    assert bad.status_code == 400
    good = client.post("/koc/settings/", {"what": "rate", "platform": "douyin", "cpm": "30", "cpe": "0.5"})
    assert good.status_code == 302
    page = client.get("/koc/settings/").content.decode()
    assert 'data-testid="rate-douyin"' in page and "CPM ¥30" in page


def test_the_member_panel(koc, alice, carol, members):
    a, _b = members
    client = client_for(carol)
    creator_page = client.get(f"/members/{a[0].pk}/").content.decode()
    assert 'data-testid="koc-panel"' in creator_page and f"/koc/creators/{koc['ca'].pk}/" in creator_page
    assert "0 posts in the last 90 days" in creator_page and "5 more (posts published)" in creator_page
    pending = client.get(f"/members/{a[2].pk}/").content.decode()
    assert 'data-testid="koc-application"' in pending
    Creator.objects.filter(member=a[1]).delete()
    other = client.get(f"/members/{a[1].pk}/").content.decode()
    assert 'data-testid="koc-panel"' not in other  # a clerk may not propose
    proposing = client_for(alice).get(f"/members/{a[1].pk}/").content.decode()
    assert 'data-testid="koc-propose"' in proposing


def test_the_phone_page(koc, carol):
    client = client_for(carol)
    page = client.get("/koc/m/post/").content.decode()
    assert 'data-testid="phone-post-form"' in page
    assert f'value="{koc["ca"].pk}"' in page and f'value="{koc["cb"].pk}"' not in page
    when = (timezone.localtime() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/koc/m/post/", {"creator": koc["ca"].pk, "url": "https://v.douyin.com/video/77",
                                            "published_at": when}, follow=True)
    assert "Post recorded for" in response.content.decode()
    refused = client.post("/koc/m/post/", {"creator": koc["cb"].pk, "url": "https://www.douyin.com/video/78",
                                           "published_at": when})
    assert refused.status_code == 400 and Post.objects.count() == 1
    today = client.get("/m/").content.decode()
    assert 'data-testid="koc-today"' in today


def test_post_list_filters(koc, alice):
    ca, ca2 = koc["ca"], koc["ca2"]
    old = make_post(ca, 1, days_ago=60, views=10)
    viral = make_post(ca2, 2, days_ago=1, views=9000, interactions=2000, platform="douyin", viral=True)
    client = client_for(alice)
    shown = lambda url: {p for p in (old.pk, viral.pk) if f'data-testid="post-{p}"' in client.get(url).content.decode()}  # noqa: E731
    assert shown("/koc/posts/") == {old.pk, viral.pk}
    assert shown("/koc/posts/?platform=douyin") == {viral.pk}
    assert shown("/koc/posts/?viral=true") == {viral.pk}
    assert shown(f"/koc/posts/?creator={ca.pk}") == {old.pk}
    since = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    assert shown(f"/koc/posts/?published_after={since}") == {viral.pk}


def test_applications_waiting_come_first(koc, alice, members):
    _a, b = members
    decided = Application.objects.create(member=b[1], state="rejected", reason="Later",
                                         created_at=timezone.now() + dt.timedelta(minutes=1))
    page = client_for(alice).get("/koc/applications/").content.decode()
    assert page.index(f'data-testid="application-{koc["application"].pk}"') < page.index(
        f'data-testid="application-{decided.pk}"')


def test_programme_settings_refuse_a_bad_value_on_its_field(koc, alice):
    from koc.models import Programme

    client = client_for(alice)
    values = {name: getattr(Programme.current(), name) for name in (
        "like_weight", "save_weight", "comment_weight", "share_weight", "viral_interactions", "viral_rate",
        "viral_min_views", "window_days", "period_months", "grace_percent", "score_spend_weight",
        "score_engagement_weight", "score_posts_weight", "score_community_weight")}
    refused = client.post("/koc/settings/", {**values, "what": "programme", "window_days": 3})
    assert refused.status_code == 400
    assert "errorlist" in refused.content.decode().split('data-testid="field-window_days"')[1].split("</div>")[0]
    assert Programme.current().window_days == 90
    saved = client.post("/koc/settings/", {**values, "what": "programme", "window_days": 60, "like_weight": "1.5"})
    assert saved.status_code == 302 and Programme.current().window_days == 60
    assert "likes × 1.5" in client.get("/koc/settings/").content.decode()
