"""The orders hook queues commission work on a real Celery worker; the hourly release is a task."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from loyalty.orders import hooks
from loyalty.referrals import tasks
from loyalty.referrals.models import Commission, CommissionRule, Referral
from tests.helpers import wait_for


def test_orders_changed_hook_creates_the_commission_after_commit(celery_worker, members, codes, make_order):
    (a0, a1, _a2), _ = members
    CommissionRule.objects.create(name="any", rate=Decimal("10"))
    with transaction.atomic():
        order = make_order(member=a1, code=codes[a0.pk].code, total="88.00")
        hooks.orders_changed(order_ids=[order.pk], member_ids=[a1.pk])
        assert not Commission.objects.exists()  # nothing runs before commit
    assert wait_for(lambda: Commission.objects.filter(order=order).exists())
    assert Commission.objects.get().amount == Decimal("8.80")
    assert wait_for(lambda: Referral.objects.filter(member=a1, referrer=a0).exists())


def test_release_task_and_gone_orders(celery_worker, members, codes, make_order):
    (a0, a1, _a2), _ = members
    CommissionRule.objects.create(name="any", rate=Decimal("10"))
    order = make_order(member=a1, code=codes[a0.pk].code, placed_at=timezone.now() - timedelta(days=30))
    tasks.sync_commissions.delay([order.pk, 99999999])  # an unknown id is skipped quietly
    assert wait_for(lambda: Commission.objects.filter(order=order, status="pending").exists())
    tasks.release_due_commissions.delay()
    assert wait_for(lambda: Commission.objects.filter(order=order, status="payable").exists())
