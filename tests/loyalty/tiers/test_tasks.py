"""Prompt recalculation through the orders hook and the nightly task, on a real Celery worker."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from loyalty.orders.hooks import orders_changed
from loyalty.tiers import services
from loyalty.tiers.models import MemberTier, TierChange, TierLadder, TierLevel
from scrm.celery import app
from tests.helpers import wait_for

from .conftest import LEVELS, place


def _level(member):
    tier = MemberTier.objects.filter(member=member).select_related("level").first()
    return tier.level.name if tier and tier.level else None


def test_scheduled_task_exists():
    assert "tiers.tasks.recalculate_all_tiers" in app.tasks
    assert app.conf.beat_schedule["recalculate-tiers-nightly"]["options"]["expires"]


@pytest.mark.django_db(transaction=True)
def test_an_order_and_a_refund_move_the_member_promptly(celery_worker, alice, members):
    services.save_ladder(actor=alice, data={"levels": LEVELS})
    # The ladder's own full recalculation ranks everyone at the entry level first.
    assert wait_for(lambda: MemberTier.objects.count() == 5)
    member = members[0][0]
    with transaction.atomic():
        order = place(member, 1200)
        orders_changed(order_ids=[order.pk], member_ids=[member.pk])
    assert wait_for(lambda: _level(member) == "可可达人"), _level(member)
    with transaction.atomic():
        order.refunded_amount = Decimal("700")
        order.save()
        orders_changed(order_ids=[order.pk], member_ids=[member.pk])
    assert wait_for(lambda: _level(member) == "可可小白")
    reasons = list(TierChange.objects.filter(member=member).order_by("id").values_list("reason", flat=True))
    assert reasons[-2:] == ["order", "refund"]


@pytest.mark.django_db(transaction=True)
def test_ladder_edit_recalculates_everyone_in_the_background(celery_worker, alice, members):
    for group in members:
        for member in group:
            place(member, 1500)
    services.save_ladder(actor=alice, data={"levels": LEVELS})
    assert wait_for(lambda: MemberTier.objects.filter(level__name="可可达人").count() == 5)
    assert set(TierChange.objects.values_list("reason", "changed_by")) == {("policy", alice.pk)}


@pytest.mark.django_db(transaction=True)
def test_nightly_task_runs_on_the_worker(celery_worker, alice, members):
    ladder = TierLadder.objects.create(pk=1)  # written directly: no recalculation queued by an edit
    for level in LEVELS:
        TierLevel.objects.create(ladder=ladder, rank=level["rank"], name=level["name"], threshold=level["threshold"])
    place(members[1][0], 6000)
    from loyalty.tiers.tasks import recalculate_all_tiers

    recalculate_all_tiers.delay()
    assert wait_for(lambda: _level(members[1][0]) == "可可大师")
    assert TierChange.objects.get(member=members[1][0]).actor_label == "nightly"


@pytest.mark.django_db(transaction=True)
def test_member_task_is_quiet_about_members_gone(celery_worker, alice, members):
    from loyalty.tiers.tasks import recalculate_member_tiers

    services.save_ladder(actor=alice, data={"levels": LEVELS})
    assert recalculate_member_tiers.apply(args=[[987654321]]).get() == 0
