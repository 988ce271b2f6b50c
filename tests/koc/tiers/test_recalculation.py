"""Tier recalculation: promotion at once, demotion only at a period's end and past the grace
margin, history with reasons and counts, nothing written when nothing changed, left and paused
creators, manual levels, and the period-end rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from koc.models import Creator, LevelChange, TierRun
from koc.services import tiers
from scrm.errors import Forbidden
from tests.koc.tiers.conftest import add_posts


def _level(creator):
    creator.refresh_from_db()
    return creator.level.name if creator.level else None


def test_a_creator_is_promoted_at_once_with_history_and_counts(ladder, make_creator):
    creator = make_creator()
    add_posts(creator, 10, interactions=150)
    run = tiers.recalculate(period_end=False)
    assert _level(creator) == "Intermediate"
    assert (run.creators, run.promoted, run.demoted, run.error) == (1, 1, 0, "")
    change = LevelChange.objects.get(creator=creator)
    assert (change.from_level, change.to_level.name, change.reason) == (None, "Intermediate", "joined")
    assert (change.posts, change.viral, change.interactions, change.run_id) == (10, 0, 1500, run.pk)
    assert (creator.window_posts, creator.window_viral, creator.window_interactions) == (10, 0, 1500)
    assert creator.level_since is not None and creator.counted_at is not None
    add_posts(creator, 2, interactions=2000, viral=True)
    tiers.recalculate(period_end=False)
    assert _level(creator) == "Senior"
    latest = LevelChange.objects.filter(creator=creator).order_by("-id").first()
    assert (latest.from_level.name, latest.to_level.name, latest.reason) == ("Intermediate", "Senior", "promoted")
    assert (latest.posts, latest.viral, latest.interactions) == (12, 2, 5500)


def test_a_run_with_nothing_changed_writes_no_history(ladder, make_creator):
    creator = make_creator()
    add_posts(creator, 3)
    tiers.recalculate(period_end=False)
    changes = LevelChange.objects.count()
    since = Creator.objects.get(pk=creator.pk).level_since
    run = tiers.recalculate(period_end=True)
    assert LevelChange.objects.count() == changes == 1
    assert (run.promoted, run.demoted, run.kept_by_grace, run.grants, run.revokes) == (0, 0, 0, 0, 0)
    assert Creator.objects.get(pk=creator.pk).level_since == since


def test_posts_outside_the_window_or_in_the_future_do_not_count(ladder, make_creator):
    creator = make_creator()
    add_posts(creator, 10, interactions=200, days_ago=91)
    add_posts(creator, 10, interactions=200, days_ago=-2)
    tiers.recalculate(period_end=False)
    assert _level(creator) is None and creator.window_posts == 0


def _senior_whose_posts_aged(ladder, make_creator, *, posts, viral, interactions_each):
    creator = make_creator(level=ladder[2], level_since=timezone.now() - timedelta(days=200))
    add_posts(creator, viral, interactions=interactions_each, viral=True)
    add_posts(creator, posts - viral, interactions=interactions_each)
    return creator


def test_no_demotion_in_the_middle_of_a_period(ladder, make_creator):
    creator = _senior_whose_posts_aged(ladder, make_creator, posts=3, viral=0, interactions_each=10)
    run = tiers.recalculate(period_end=False)
    assert _level(creator) == "Senior" and run.demoted == 0
    assert not LevelChange.objects.exists()
    assert creator.window_posts == 3  # the counts are kept up to date all the same


def test_at_a_period_end_a_creator_below_the_grace_margin_is_demoted_to_what_they_earn(ladder, make_creator):
    # Senior asks 10 posts, 2 viral, 5000 interactions; 20 % grace keeps 8, 2, 4000. 7 posts is past it.
    creator = _senior_whose_posts_aged(ladder, make_creator, posts=7, viral=2, interactions_each=800)
    run = tiers.recalculate(period_end=True)
    assert _level(creator) == "Junior"
    assert (run.demoted, run.kept_by_grace, run.period_end) == (1, 0, True)
    change = LevelChange.objects.get(creator=creator)
    assert (change.from_level.name, change.to_level.name, change.reason, change.posts) == (
        "Senior", "Junior", "demoted", 7)


def test_within_the_grace_margin_a_creator_keeps_their_level_counted_as_kept_by_grace(ladder, make_creator):
    creator = _senior_whose_posts_aged(ladder, make_creator, posts=8, viral=2, interactions_each=500)  # 4000
    run = tiers.recalculate(period_end=True)
    assert _level(creator) == "Senior"
    assert (run.demoted, run.kept_by_grace) == (0, 1)
    assert not LevelChange.objects.exists()


def test_a_creator_with_nothing_in_the_window_falls_below_the_base_at_a_period_end(ladder, make_creator):
    creator = make_creator(level=ladder[0])
    tiers.recalculate(period_end=True)
    assert _level(creator) is None
    assert LevelChange.objects.get(creator=creator).to_level is None


def test_a_creator_who_left_loses_their_level_and_paused_ones_stay_put(ladder, make_creator, members):
    gone = make_creator(members[0][0], level=ladder[1], status="left")
    paused = make_creator(members[0][1], level=ladder[0], status="paused")
    add_posts(gone, 12, interactions=1000, viral=True)
    add_posts(paused, 12, interactions=1000, viral=True)
    run = tiers.recalculate(period_end=True)
    assert _level(gone) is None and _level(paused) == "Junior"
    assert LevelChange.objects.get(creator=gone).reason == "left_programme"
    assert not LevelChange.objects.filter(creator=paused).exists()
    assert paused.window_posts == 12
    assert (run.promoted, run.demoted) == (0, 1)


def test_a_run_for_some_creators_touches_only_them_and_never_demotes(ladder, make_creator, members):
    one = make_creator(members[0][0])
    other = make_creator(members[0][1])
    falling = make_creator(members[0][2], level=ladder[2])
    add_posts(one, 2)
    add_posts(other, 2)
    run = tiers.recalculate(creator_ids=[one.pk, falling.pk])
    assert (_level(one), _level(other), _level(falling)) == ("Junior", None, "Senior")
    assert run.period_end is False


def test_the_period_end_is_decided_from_the_date_once_per_period(ladder, make_creator, programme):
    creator = make_creator(level=ladder[0])
    first = tiers.recalculate()  # no period-end run yet in this period: this is it
    assert first.period_end is True and _level(creator) is None
    Creator.objects.filter(pk=creator.pk).update(level=ladder[0])
    assert tiers.recalculate().period_end is False
    assert _level(creator) == "Junior"


def test_periods_start_every_period_months_from_january_in_the_brand_time_zone(programme):
    # 2026-03-31 17:00 UTC is 1 April 01:00 in Shanghai: the second quarter has started.
    assert tiers.period_start(datetime(2026, 3, 31, 17, tzinfo=UTC), 3) == datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert tiers.period_start(datetime(2026, 3, 31, 15, tzinfo=UTC), 3) == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert tiers.period_start(datetime(2026, 8, 15, tzinfo=UTC), 6) == datetime(2026, 6, 30, 16, tzinfo=UTC)


def test_an_operator_sets_a_level_by_hand_and_the_next_run_follows_the_rules(ladder, make_creator, alice, bob):
    creator = make_creator()
    add_posts(creator, 2)
    with pytest.raises(Forbidden):
        tiers.set_level(creator=creator, actor=bob, level_id=ladder[2].pk, reason="star of the month")
    change = tiers.set_level(creator=creator, actor=alice, level_id=ladder[2].pk, reason="star of the month")
    assert (change.reason, change.by, change.to_level) == ("manual", alice, ladder[2])
    tiers.recalculate(period_end=False)
    assert _level(creator) == "Senior"  # kept until a period's end
    tiers.recalculate(period_end=True)
    assert _level(creator) == "Junior"


def test_only_brand_wide_actors_start_a_run(ladder, bob):
    with pytest.raises(Forbidden):
        tiers.recalculate(actor=bob)
    assert not TierRun.objects.exists()
