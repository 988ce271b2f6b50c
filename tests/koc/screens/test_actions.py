"""The KOC screens' writes through Django's client: topics (create, open, take part by posting,
close), benefits and launches with who may buy early, the recalculation button, proposing a
candidate, editing a creator, adding an account, setting a level by hand, an official repost; each
answered with a redirect and safe to send twice; and list pages whose query count does not grow
with their rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from koc.models import (
    Account,
    Application,
    Benefit,
    Creator,
    Launch,
    LevelChange,
    MetricSnapshot,
    Participation,
    Repost,
    TierRun,
    Topic,
)
from members.models import Member
from tests.koc.screens.conftest import make_post

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_a_topic_from_brief_to_close(koc, alice, carol, bob):
    operator = client_for(alice)
    now = timezone.now()
    created = operator.post("/koc/topics/new/", {
        "title": "Blind-box weighing", "brief": "Weigh a blind box on camera", "platforms": ["xiaohongshu", "douyin"],
        "starts_at": local(now - dt.timedelta(days=1)), "ends_at": local(now + dt.timedelta(days=14)),
        "reward_points": 200, "reward_sample": ""})
    topic = Topic.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/koc/topics/{topic.pk}/"
    assert topic.platforms == ["xiaohongshu", "douyin"] and topic.status == "draft"
    assert bob.pk and client_for(bob).post(f"/koc/topics/{topic.pk}/status/", {"to": "open"}).status_code in (302, 403)
    Topic.objects.filter(pk=topic.pk).update(status="draft")
    operator.post(f"/koc/topics/{topic.pk}/status/", {"to": "open"})
    assert Topic.objects.get(pk=topic.pk).status == "open"

    clerk = client_for(carol)
    recorded = clerk.post("/koc/posts/new/", {
        "creator": koc["ca"].pk, "url": "https://www.xiaohongshu.com/explore/weigh1", "topic": topic.pk,
        "published_at": local(now - dt.timedelta(hours=1))})
    assert recorded.status_code == 302
    assert Participation.objects.filter(topic=topic, creator=koc["ca"]).exists()
    weibo = clerk.post("/koc/posts/new/", {
        "creator": koc["ca"].pk, "url": "https://weibo.com/123/Abc", "topic": topic.pk,
        "published_at": local(now - dt.timedelta(hours=1))})
    assert weibo.status_code == 400
    assert "errorlist" in weibo.content.decode().split('data-testid="field-topic"')[1].split("</div>")[0]
    page = clerk.get(f"/koc/topics/{topic.pk}/").content.decode()
    assert koc["ca"].member.name in page and 'data-testid="fig-posts">1<' in page
    assert 'data-testid="edit-topic"' not in page

    edited = operator.post(f"/koc/topics/{topic.pk}/edit/", {
        "title": "Blind-box weighing, round 2", "brief": "Weigh two", "starts_at": local(topic.starts_at),
        "ends_at": local(topic.ends_at), "reward_points": 300})
    assert edited.status_code == 302 and Topic.objects.get(pk=topic.pk).reward_points == 300
    operator.post(f"/koc/topics/{topic.pk}/status/", {"to": "closed"})
    assert Topic.objects.get(pk=topic.pk).status == "closed"
    assert "Blind-box weighing, round 2" in clerk.get("/koc/topics/").content.decode()


def test_benefits_launches_and_early_access(koc, alice, bob, ladder):
    operator = client_for(alice)
    bad = operator.post("/koc/levels/benefits/", {"level": ladder[0].pk, "kind": "early_access", "name": "Early"})
    assert bad.status_code == 400 and not Benefit.objects.exists()  # early access needs its days
    added = operator.post("/koc/levels/benefits/", {"level": ladder[0].pk, "kind": "early_access",
                                                   "name": "A week early", "early_days": 7})
    assert added.status_code == 302 and Benefit.objects.get().early_days == 7
    public = timezone.now() + dt.timedelta(days=3)
    wrong = operator.post("/koc/launches/new/", {"name": "", "public_at": local(public)})
    assert wrong.status_code == 400 and not Launch.objects.exists()
    operator.post("/koc/launches/new/", {"name": "Sanrio blind box", "public_at": local(public)})
    launch = Launch.objects.get()
    everyone = operator.get(f"/koc/launches/?launch={launch.pk}").content.decode()
    early = everyone.split(f'data-testid="early-{launch.pk}"')[1].split("</ul>")[0]
    assert koc["ca"].member.name in early and koc["cb"].member.name in early
    mine = client_for(bob).get(f"/koc/launches/?launch={launch.pk}").content.decode()
    early = mine.split(f'data-testid="early-{launch.pk}"')[1].split("</ul>")[0]
    assert koc["ca"].member.name in early and koc["cb"].member.name not in early
    assert 'data-testid="launch-form"' not in mine
    assert 'A week early' in client_for(koc["ca"].approved_by).get(f"/koc/creators/{koc['ca'].pk}/").content.decode()


def test_recalculate_now(koc, alice):
    response = client_for(alice).post("/koc/levels/recalculate/", follow=True)
    run = TierRun.objects.get()
    assert run.trigger == "manual" and "Recalculated:" in response.content.decode()
    assert f'data-testid="run-{run.pk}"' in response.content.decode()


def test_propose_a_candidate_once(koc, alice, members, carol):
    _a, b = members
    operator = client_for(alice)
    first = operator.post("/koc/candidates/propose/", {"member": b[1].pk})
    assert first.status_code == 302
    application = Application.objects.get(member=b[1])
    assert application.state == "pending" and application.proposed_by == alice
    operator.post("/koc/candidates/propose/", {"member": b[1].pk})
    assert Application.objects.filter(member=b[1]).count() == 1
    assert client_for(carol).post("/koc/candidates/propose/", {"member": b[1].pk}).status_code == 403
    assert client_for(carol).post("/koc/candidates/propose/", {"member": 10**9}).status_code == 403


def test_edit_a_creator_add_an_account_and_set_a_level(koc, bob, alice, ladder):
    ca, ca2, cb = koc["ca"], koc["ca2"], koc["cb"]
    manager = client_for(bob)
    foreign = manager.post(f"/koc/creators/{ca.pk}/edit/", {"status": "paused", "mentor": cb.pk, "bio": "x"})
    assert foreign.status_code == 400  # a store-B mentor is not among bob's creators
    assert Creator.objects.get(pk=ca.pk).status == "active"
    saved = manager.post(f"/koc/creators/{ca.pk}/edit/", {"status": "paused", "mentor": ca2.pk, "bio": "Runs"})
    assert saved.status_code == 302
    ca.refresh_from_db()
    assert (ca.status, ca.mentor_id, ca.bio) == ("paused", ca2.pk, "Runs")

    assert manager.post(f"/koc/creators/{ca.pk}/accounts/", {"platform": "douyin", "handle": "zhang0",
                                                             "followers": 1200}).status_code == 302
    taken = manager.post(f"/koc/creators/{ca2.pk}/accounts/", {"platform": "douyin", "handle": "zhang0",
                                                               "followers": 3})
    assert taken.status_code == 400
    assert "errorlist" in taken.content.decode().split('data-testid="field-account-handle"')[1].split("</div>")[0]
    assert Account.objects.count() == 1
    assert manager.post(f"/koc/creators/{cb.pk}/accounts/", {"platform": "weibo", "handle": "li0"}).status_code == 404

    assert manager.post(f"/koc/creators/{ca.pk}/level/", {"level": ladder[2].pk, "reason": "x"}).status_code == 403
    operator = client_for(alice)
    no_reason = operator.post(f"/koc/creators/{ca.pk}/level/", {"level": ladder[2].pk, "reason": ""})
    assert no_reason.status_code == 400 and Creator.objects.get(pk=ca.pk).level_id == ladder[0].pk
    operator.post(f"/koc/creators/{ca.pk}/level/", {"level": ladder[2].pk, "reason": "Brand ambassador"})
    assert Creator.objects.get(pk=ca.pk).level_id == ladder[2].pk
    change = LevelChange.objects.get(creator=ca)
    assert change.reason == "manual" and change.by == alice
    assert "set by hand" in operator.get(f"/koc/creators/{ca.pk}/").content.decode()


def test_a_snapshot_sent_twice_is_kept_once_and_a_repost(koc, alice):
    post = make_post(koc["ca"], 1)
    operator = client_for(alice)
    values = {"taken_at": local(timezone.now() - dt.timedelta(minutes=5)), "views": 300, "likes": 9, "saves": 1,
              "comments": 0, "shares": 0, "followers_gained": 0}
    assert operator.post(f"/koc/posts/{post.pk}/metrics/", values).status_code == 302
    again = operator.post(f"/koc/posts/{post.pk}/metrics/", values)
    assert again.status_code in (302, 400)
    assert MetricSnapshot.objects.filter(post=post).count() == 1
    assert operator.post(f"/koc/posts/{post.pk}/repost/").status_code == 302
    assert Repost.objects.filter(post=post).count() == 1
    assert "The brand" in operator.get(f"/koc/posts/{post.pk}/").content.decode()


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/koc/creators/", "/koc/posts/", "/koc/applications/", "/koc/", "/koc/topics/"])
def test_list_pages_do_not_query_per_row(koc, alice, store_a, url):
    client = client_for(alice)
    make_post(koc["ca"], 1, views=10, interactions=1)
    Topic.objects.create(title="T", brief="b", starts_at=timezone.now(), ends_at=timezone.now() + dt.timedelta(days=1))
    _queries(client, url)  # the programme's settings row is made on the first read
    before = _queries(client, url)
    for i in range(6):
        member = Member.objects.create(name=f"周{i}", phone=f"+86136000000{i:02d}", home_store=store_a)
        creator = Creator.objects.create(member=member, level=koc["ca"].level)
        make_post(creator, 10 + i, views=100 + i, interactions=i)
        Application.objects.create(member=Member.objects.create(name=f"吴{i}", phone=f"+86135000000{i:02d}",
                                                                home_store=store_a))
        Topic.objects.create(title=f"T{i}", brief="b", starts_at=timezone.now(),
                             ends_at=timezone.now() + dt.timedelta(days=1))
    assert _queries(client, url) == before
