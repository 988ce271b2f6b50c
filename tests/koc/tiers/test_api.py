"""The programme's API under /api/v1/koc/: the ladder (PUT whole, errors naming the level), benefits,
launches and early access, tier runs (POST safe to retry), level changes scoped by the creator's
store, what the next level needs, and mentor templates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from koc.models import Benefit, Launch, Level, LevelChange, MentorTemplate, TierRun
from koc.services import rights, tiers
from tests.koc.tiers.conftest import add_posts

LADDER = [
    {"rank": 1, "name": "Junior", "min_posts": 1},
    {"rank": 2, "name": "Intermediate", "min_posts": 10, "min_interactions": 1000},
    {"rank": 3, "name": "Senior", "min_posts": 10, "min_viral": 2, "min_interactions": 5000},
]


def _as(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_an_operator_puts_the_ladder_and_store_roles_read_it(api_client, alice, bob, programme):
    response = _as(api_client, alice).put("/api/v1/koc/levels/", {"levels": LADDER}, format="json")
    assert response.status_code == 200, response.content
    assert [lv["name"] for lv in response.json()["levels"]] == ["Junior", "Intermediate", "Senior"]
    listed = _as(api_client, bob).get("/api/v1/koc/levels/").json()
    assert [(lv["rank"], lv["creators"]) for lv in listed["results"]] == [(1, 0), (2, 0), (3, 0)]
    response = api_client.put("/api/v1/koc/levels/", {"levels": LADDER}, format="json")
    assert response.status_code == 403
    assert "brand-wide" in response.json()["error"]["message"]


def test_a_bad_ladder_is_a_400_naming_the_level_and_nothing_changes(api_client, alice, ladder):
    _as(api_client, alice)
    before = list(Level.objects.values_list("rank", "name", "min_posts"))
    gap = [dict(LADDER[0]), dict(LADDER[2], rank=3)]
    response = api_client.put("/api/v1/koc/levels/", {"levels": gap}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "rank 2 is missing" in error["details"]["levels"][0]
    overlap = [dict(LADDER[0]), dict(LADDER[1], min_posts=1, min_interactions=0)]
    details = api_client.put("/api/v1/koc/levels/", {"levels": overlap}, format="json").json()["error"]["details"]
    assert "overlap" in details["levels[1].rank"][0]
    unknown = api_client.put("/api/v1/koc/levels/", {"levels": [dict(LADDER[0], min_likes=3)]}, format="json")
    assert unknown.status_code == 400 and "min_likes" in str(unknown.json()["error"]["details"])
    assert list(Level.objects.values_list("rank", "name", "min_posts")) == before


def test_benefits_are_created_once_per_idempotency_key(api_client, alice, bob, ladder):
    _as(api_client, alice)
    body = {"level": ladder[2].pk, "kind": "early_access", "name": "A week early", "early_days": 7}
    first = api_client.post("/api/v1/koc/benefits/", body, format="json", HTTP_IDEMPOTENCY_KEY="benefit-1")
    again = api_client.post("/api/v1/koc/benefits/", body, format="json", HTTP_IDEMPOTENCY_KEY="benefit-1")
    assert first.status_code == again.status_code == 201, first.content
    assert again["Idempotent-Replayed"] == "true" and Benefit.objects.count() == 1
    bad = api_client.post("/api/v1/koc/benefits/", {**body, "name": "x", "early_days": None}, format="json")
    assert bad.status_code == 400 and "early_days" in bad.json()["error"]["details"]
    benefit_id = first.json()["id"]
    edited = api_client.put(f"/api/v1/koc/benefits/{benefit_id}/", {**body, "active": False}, format="json")
    assert edited.status_code == 200 and edited.json()["active"] is False
    assert _as(api_client, bob).post("/api/v1/koc/benefits/", {**body, "name": "y"}, format="json").status_code == 403
    assert _as(api_client, alice).delete(f"/api/v1/koc/benefits/{benefit_id}/").status_code == 204


def test_early_access_a_week_before_for_a_senior_and_not_a_junior(api_client, alice, carol, ladder, make_creator,
                                                                   members):
    rights.save_benefit(actor=alice, level_id=ladder[2].pk, kind="early_access", name="A week early", early_days=7)
    senior = make_creator(members[0][0], level=ladder[2])
    junior = make_creator(members[0][1], level=ladder[0])
    rights.sync_grants()
    public = (timezone.now() + timedelta(days=6, hours=23)).isoformat()
    launch = _as(api_client, alice).post("/api/v1/koc/launches/", {"name": "Blind boxes", "public_at": public},
                                         format="json")
    assert launch.status_code == 201, launch.content
    url = f"/api/v1/koc/launches/{launch.json()['id']}/early-access/"
    _as(api_client, carol)
    answer = api_client.get(url, {"member_id": senior.member_id}).json()
    assert answer["can_buy"] is True and answer["early_days"] == 7
    answer = api_client.get(url, {"member_id": junior.member_id}).json()
    assert answer["can_buy"] is False and answer["early_days"] is None
    # Another store's member is out of a clerk's reach.
    response = api_client.get(url, {"member_id": members[1][0].pk})
    assert response.status_code == 400 and "member_id" in response.json()["error"]["details"]
    assert api_client.get(url).status_code == 400
    assert Launch.objects.count() == 1


def test_a_recalculation_started_through_the_api_runs_once_per_key(api_client, alice, bob, ladder, make_creator):
    creator = make_creator()
    add_posts(creator, 3)
    _as(api_client, alice)
    first = api_client.post("/api/v1/koc/tier-runs/", {"period_end": False}, format="json",
                            HTTP_IDEMPOTENCY_KEY="run-1")
    again = api_client.post("/api/v1/koc/tier-runs/", {"period_end": False}, format="json",
                            HTTP_IDEMPOTENCY_KEY="run-1")
    assert first.status_code == 201, first.content
    assert again.json() == first.json() and TierRun.objects.count() == 1
    assert (first.json()["promoted"], first.json()["trigger"]) == (1, "api")
    assert api_client.get(f"/api/v1/koc/tier-runs/{first.json()['id']}/").json()["creators"] == 1
    response = _as(api_client, bob).post("/api/v1/koc/tier-runs/", {}, format="json")
    assert response.status_code == 403 and TierRun.objects.count() == 1


@pytest.fixture
def changes(ladder, make_creator, members):
    a = make_creator(members[0][0])
    b = make_creator(members[1][0])
    add_posts(a, 2)
    add_posts(b, 2)
    tiers.recalculate(period_end=False)
    return a, b


def test_level_changes_are_scoped_by_the_creators_store(api_client, carol, dave, alice, changes):
    a, b = changes
    assert LevelChange.objects.count() == 2
    seen = _as(api_client, dave).get("/api/v1/koc/level-changes/").json()["results"]
    assert [row["creator"] for row in seen] == [b.pk]
    assert _as(api_client, dave).get("/api/v1/koc/level-changes/", {"creator": a.pk}).json()["results"] == []
    a_change = LevelChange.objects.get(creator=a)
    assert api_client.get(f"/api/v1/koc/level-changes/{a_change.pk}/").status_code == 404
    seen = _as(api_client, carol).get("/api/v1/koc/level-changes/", {"creator": a.pk}).json()["results"]
    assert [(row["creator"], row["reason"], row["posts"]) for row in seen] == [(a.pk, "joined", 2)]
    assert len(_as(api_client, alice).get("/api/v1/koc/level-changes/").json()["results"]) == 2


def test_the_level_changes_list_costs_the_same_queries_for_more_rows(api_client, alice, ladder, make_creator,
                                                                     members):
    _as(api_client, alice)
    a = make_creator(members[0][0])
    add_posts(a, 1)
    tiers.recalculate(period_end=False)
    with CaptureQueriesContext(connection) as one:
        api_client.get("/api/v1/koc/level-changes/")
    for member in (*members[0][1:], *members[1]):
        add_posts(make_creator(member), 1)
    tiers.recalculate(period_end=False)
    with CaptureQueriesContext(connection) as five:
        assert len(api_client.get("/api/v1/koc/level-changes/").json()["results"]) == 5
    assert len(five) == len(one)


def test_what_the_next_level_needs_through_the_api(api_client, carol, dave, changes, ladder):
    a, _b = changes
    answer = _as(api_client, carol).get(f"/api/v1/koc/creators/{a.pk}/next-level/").json()
    assert (answer["current"]["name"], answer["next"]["name"], answer["at_top"]) == ("Junior", "Intermediate", False)
    posts = next(n for n in answer["needs"] if n["minimum"] == "min_posts")
    assert (posts["have"], posts["need"], posts["missing"], posts["met"]) == (2, 10, 8, False)
    assert _as(api_client, dave).get(f"/api/v1/koc/creators/{a.pk}/next-level/").status_code == 404


def test_mentor_templates_through_the_api(api_client, alice, bob, carol, dave, ladder, make_creator, members):
    rights.save_benefit(actor=alice, level_id=ladder[2].pk, kind="mentor", name="Mentor")
    mentor = make_creator(members[0][0], level=ladder[2])
    mentee = make_creator(members[0][1], level=ladder[0], mentor=mentor)
    rights.sync_grants()
    url = f"/api/v1/koc/creators/{mentor.pk}/templates/"
    body = {"title": "Unboxing in 3 shots", "body": "1. the box 2. the figure 3. your face", "platform": "douyin"}
    created = _as(api_client, bob).post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="tpl-1")
    assert created.status_code == 201, created.content
    assert api_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="tpl-1").status_code == 201
    assert MentorTemplate.objects.count() == 1
    listed = _as(api_client, carol).get(f"/api/v1/koc/creators/{mentee.pk}/templates/").json()["results"]
    assert [t["title"] for t in listed] == ["Unboxing in 3 shots"]
    assert api_client.get(url).json()["results"] == []  # the mentor has no mentor of their own
    assert api_client.post(url, body, format="json").status_code == 403  # a clerk reads creators only
    not_mentor = _as(api_client, bob).post(f"/api/v1/koc/creators/{mentee.pk}/templates/", body, format="json")
    assert not_mentor.status_code == 400 and "mentor" in not_mentor.json()["error"]["details"]
    assert _as(api_client, dave).get(url).status_code == 404
    bad = _as(api_client, bob).post(url, {**body, "colour": "red"}, format="json")
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["details"]
