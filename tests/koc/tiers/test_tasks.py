"""The scheduled recalculation and the per-creator one, run on a real Celery worker."""

from __future__ import annotations

import pytest

from koc import tasks
from koc.models import LevelChange, TierRun
from scrm.celery import app
from tests.helpers import wait_for
from tests.koc.tiers.conftest import add_posts


def test_the_tasks_are_registered():
    assert {"koc.recalculate_tiers", "koc.recalculate_creators"} <= set(app.tasks)


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_recalculation_runs_on_the_worker(celery_worker, ladder, make_creator, members):
    creator = make_creator()
    add_posts(creator, 10, interactions=150)
    tasks.recalculate_tiers.delay()
    assert wait_for(lambda: TierRun.objects.filter(finished_at__isnull=False).exists())
    run = TierRun.objects.get()
    assert (run.trigger, run.promoted, run.error) == ("schedule", 1, "")
    creator.refresh_from_db()
    assert creator.level.name == "Intermediate"
    # Run again: nothing changes, nothing is recorded twice.
    tasks.recalculate_tiers.delay()
    assert wait_for(lambda: TierRun.objects.filter(finished_at__isnull=False).count() == 2)
    assert LevelChange.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_creator_recalculation_promotes_only_them(celery_worker, ladder, make_creator, members):
    one, other = make_creator(members[0][0]), make_creator(members[0][1])
    add_posts(one, 2)
    add_posts(other, 2)
    tasks.recalculate_creators.delay([one.pk])
    assert wait_for(lambda: TierRun.objects.filter(finished_at__isnull=False).exists())
    assert list(LevelChange.objects.values_list("creator_id", "reason")) == [(one.pk, "joined")]
    assert TierRun.objects.get().trigger == "posts"


@pytest.mark.django_db(transaction=True)
def test_saving_the_ladder_recalculates_everyone_in_the_background(celery_worker, programme, alice,
                                                                    make_creator):
    from koc.services import levels

    creator = make_creator()
    add_posts(creator, 2)
    levels.save_ladder(actor=alice, levels=[{"rank": 1, "name": "Junior", "min_posts": 1}])
    assert wait_for(lambda: TierRun.objects.filter(trigger="ladder", finished_at__isnull=False).exists())
    # Another run the posts queued may finish first; the ladder's own run then places the creator.
    assert wait_for(lambda: type(creator).objects.filter(pk=creator.pk, level__name="Junior").exists())
    creator.refresh_from_db()
    assert creator.level.name == "Junior"
