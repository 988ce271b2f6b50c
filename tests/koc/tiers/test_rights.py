"""Benefits per level: grants and revokes following level changes (community membership with them),
early access to launches, mentor templates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Community, CommunityMembership
from koc.models import Benefit, BenefitGrant, MentorTemplate
from koc.services import rights, tiers
from scrm.errors import Conflict, Forbidden, InvalidInput
from tests.koc.tiers.conftest import add_posts


def _open(creator):
    return sorted(BenefitGrant.objects.filter(creator=creator, revoked_at__isnull=True)
                  .values_list("benefit__name", flat=True))


@pytest.fixture
def community(store_a, bob):
    return Community.objects.create(store=store_a, name="Senior creators", owner=bob)


@pytest.fixture
def benefits(ladder, alice, community):
    junior, intermediate, senior = ladder
    return {
        "samples": rights.save_benefit(actor=alice, level_id=junior.pk, kind="sample", name="Samples"),
        "early": rights.save_benefit(actor=alice, level_id=intermediate.pk, kind="early_access", name="Early 3",
                                     early_days=3),
        "early7": rights.save_benefit(actor=alice, level_id=senior.pk, kind="early_access", name="Early 7",
                                      early_days=7),
        "club": rights.save_benefit(actor=alice, level_id=senior.pk, kind="community", name="Senior club",
                                    community_id=community.pk),
        "mentor": rights.save_benefit(actor=alice, level_id=senior.pk, kind="mentor", name="Mentor"),
    }


def test_grants_follow_levels_up_and_down_with_the_community(benefits, make_creator, ladder, community):
    creator = make_creator()
    add_posts(creator, 12, interactions=1000, viral=True)
    run = tiers.recalculate(period_end=False)
    assert _open(creator) == ["Early 3", "Early 7", "Mentor", "Samples", "Senior club"]
    assert run.grants == 5 and run.revokes == 0
    assert BenefitGrant.objects.filter(creator=creator, run=run).count() == 5
    membership = CommunityMembership.objects.get(community=community, member=creator.member)
    assert membership.left_at is None and membership.source == "api"
    # A second run grants nothing again.
    assert (tiers.recalculate(period_end=False).grants, BenefitGrant.objects.count()) == (0, 5)
    # The posts age out of the window; at the period's end the senior falls to junior.
    creator.posts.update(published_at=timezone.now() - timedelta(days=200))
    add_posts(creator, 1)
    run = tiers.recalculate(period_end=True)
    assert _open(creator) == ["Samples"]
    assert (run.grants, run.revokes) == (0, 4)
    membership.refresh_from_db()
    assert membership.left_at is not None
    # Revoked grants stay as history.
    assert BenefitGrant.objects.filter(creator=creator, revoked_at__isnull=False).count() == 4


def test_a_member_who_joined_the_community_on_their_own_is_not_removed(benefits, make_creator, community):
    creator = make_creator()
    own = CommunityMembership.objects.create(community=community, member=creator.member, source="store")
    add_posts(creator, 12, interactions=1000, viral=True)
    tiers.recalculate(period_end=False)
    assert CommunityMembership.objects.filter(member=creator.member).count() == 1
    creator.status = "paused"
    creator.save()
    tiers.recalculate(period_end=False)
    assert _open(creator) == []  # paused: benefits revoked, level kept
    own.refresh_from_db()
    assert own.left_at is None


def test_switching_a_benefit_off_or_moving_it_up_revokes_it_at_once(benefits, make_creator, ladder, alice):
    creator = make_creator(level=ladder[1])
    rights.sync_grants()
    assert _open(creator) == ["Early 3", "Samples"]
    early = benefits["early"]
    rights.save_benefit(actor=alice, benefit=early, level_id=ladder[2].pk, kind="early_access", name="Early 3",
                        early_days=3)
    assert _open(creator) == ["Samples"]
    rights.save_benefit(actor=alice, benefit=benefits["samples"], level_id=ladder[0].pk, kind="sample",
                        name="Samples", active=False)
    assert _open(creator) == []


def test_early_access_a_week_before_for_a_senior_not_for_a_junior(benefits, make_creator, ladder, alice, members):
    senior = make_creator(members[0][0], level=ladder[2])
    junior = make_creator(members[0][1], level=ladder[0])
    rights.sync_grants()
    public = timezone.now() + timedelta(days=7)
    launch = rights.save_launch(actor=alice, name="Chiikawa blind boxes", public_at=public)
    week_before = public - timedelta(days=7)
    assert rights.can_buy_early(member=senior.member, launch=launch, at=week_before) is True
    assert rights.can_buy_early(member=junior.member, launch=launch, at=week_before) is False
    assert rights.can_buy_early(member=senior.member, launch=launch, at=public - timedelta(days=8)) is False
    assert rights.can_buy_early(member=members[1][0], launch=launch, at=week_before) is False  # not a creator
    assert rights.can_buy_early(member=junior.member, launch=launch, at=public) is True  # public
    listed = rights.early_access_list(launch)
    assert [(c.pk, c.early_days, c.opens_at) for c in listed] == [(senior.pk, 7, public - timedelta(days=7))]


def test_benefit_input_is_checked(ladder, alice, bob, community):
    level = ladder[0].pk
    cases = [
        ({"kind": "early_access", "early_days": None}, "early_days"),
        ({"kind": "early_access", "early_days": 61}, "early_days"),
        ({"kind": "community"}, "community_id"),
        ({"kind": "community", "community_id": 999999}, "community_id"),
        ({"kind": "sample", "early_days": 3}, "early_days"),
        ({"kind": "gold"}, "kind"),
        ({"kind": "sample", "level_id": 999999}, "level_id"),
    ]
    for extra, field in cases:
        with pytest.raises(InvalidInput) as caught:
            rights.save_benefit(actor=alice, **{"level_id": level, "name": "X", **extra})
        assert field in caught.value.details, (extra, caught.value.details)
    rights.save_benefit(actor=alice, level_id=level, kind="sample", name="Samples")
    with pytest.raises(InvalidInput) as caught:
        rights.save_benefit(actor=alice, level_id=level, kind="sample", name="Samples")
    assert "name" in caught.value.details
    with pytest.raises(Forbidden):
        rights.save_benefit(actor=bob, level_id=level, kind="sample", name="Other")
    assert Benefit.objects.count() == 1


def test_a_benefit_once_held_cannot_be_deleted(benefits, make_creator, ladder, alice):
    make_creator(level=ladder[0])
    rights.sync_grants()
    with pytest.raises(Conflict):
        rights.delete_benefit(actor=alice, benefit=benefits["samples"])
    rights.delete_benefit(actor=alice, benefit=benefits["mentor"])
    assert not Benefit.objects.filter(name="Mentor").exists()


def test_only_a_mentor_shares_templates_and_mentees_see_them(benefits, make_creator, ladder, members, bob, carol,
                                                              dave):
    mentor = make_creator(members[0][0], level=ladder[2])
    mentee = make_creator(members[0][1], level=ladder[0], mentor=mentor)
    other = make_creator(members[0][2], level=ladder[1])
    rights.sync_grants()
    template = rights.share_template(mentor=mentor, actor=bob, title="Unboxing in 3 shots", body="1. …",
                                     platform="xiaohongshu")
    assert list(rights.templates_for(mentee)) == [template]
    assert list(rights.templates_for(other)) == []
    with pytest.raises(InvalidInput) as caught:
        rights.share_template(mentor=other, actor=bob, title="T", body="B")
    assert "mentor" in caught.value.details
    for outsider in (carol, dave):  # a clerk reads creators only; dave is another store's
        with pytest.raises(Forbidden):
            rights.share_template(mentor=mentor, actor=outsider, title="T", body="B")
    with pytest.raises(InvalidInput) as caught:
        rights.share_template(mentor=mentor, actor=bob, title="", body="B", platform="myspace")
    assert set(caught.value.details) == {"title", "platform"}
    assert MentorTemplate.objects.count() == 1
