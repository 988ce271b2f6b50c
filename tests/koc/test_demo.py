"""The demo KOC programme: a three-level ladder with creators on every level, posts measured over
time (some viral), applications waiting, an open topic with participants, rights granted by level
and a launch whose early access follows them; a rerun adds nothing."""

from __future__ import annotations

import pytest
from django.db.models import Count

from communities import demo as communities_demo
from koc import demo
from koc.models import (
    Application,
    BenefitGrant,
    Creator,
    Launch,
    Level,
    MetricSnapshot,
    Participation,
    Post,
    TopicStatus,
)
from koc.services import rights
from members.models import Member
from scrm import demo as org_demo

pytestmark = pytest.mark.django_db


def test_demo_seed_builds_a_pyramid_and_is_idempotent():
    org_demo.seed(password="demo-pw-test")
    stores = org_demo.demo_stores()
    Member.objects.bulk_create([Member(name=f"会员{i}", home_store=s) for s in stores for i in range(80)])
    communities_demo.seed()
    summary = demo.seed()
    assert summary.startswith("koc: 40 creators"), summary
    counts = dict(Level.objects.annotate(n=Count("creators")).values_list("rank", "n"))
    assert set(counts) == {1, 2, 3} and all(counts[r] > 0 for r in (1, 2, 3)), counts
    assert counts[1] > counts[3]  # a pyramid: more at the base than at the top
    assert Post.objects.filter(viral=True).exists()
    assert MetricSnapshot.objects.count() >= Post.objects.count()
    assert Application.objects.filter(state="pending").count() == 6
    assert Participation.objects.filter(topic__status=TopicStatus.OPEN).exists()
    assert BenefitGrant.objects.filter(revoked_at__isnull=True).exists()
    launch = Launch.objects.get()
    senior = Creator.objects.filter(level__rank=3).select_related("member").first()
    junior = Creator.objects.filter(level__rank=1).select_related("member").first()
    assert rights.can_buy_early(member=senior.member, launch=launch)
    assert not rights.can_buy_early(member=junior.member, launch=launch)
    before = (Creator.objects.count(), Post.objects.count(), MetricSnapshot.objects.count())
    assert demo.seed() == "koc: already seeded"
    assert (Creator.objects.count(), Post.objects.count(), MetricSnapshot.objects.count()) == before
