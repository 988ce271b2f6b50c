"""The deliveries table is partitioned by month: the months ahead are made in advance, a delivery of
a month with no partition yet is caught by the default partition and moved when the month is made,
and an old month's partition can be detached without touching the live ones."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from campaigns import partitions
from campaigns.models import Delivery

pytestmark = pytest.mark.django_db


def _partition_of(delivery_id):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {partitions.TABLE} WHERE id = %s", [delivery_id])
        return cursor.fetchone()[0]


def test_this_month_and_the_next_two_have_partitions():
    month = timezone.localdate().replace(day=1)
    partitions.ensure_partitions(months_ahead=2)
    have = partitions.partitions()
    assert month in have
    assert partitions._next(partitions._next(month)) in have


def test_a_month_without_partition_lands_in_the_default_and_moves_when_made(make_campaign, audience):
    campaign = make_campaign(start=False)
    far = dt.date(2031, 7, 1)
    assert far not in partitions.partitions()
    delivery = Delivery.objects.create(send_month=far, campaign=campaign, member=audience[0][0])
    assert delivery.id is not None
    assert _partition_of(delivery.id) == partitions.DEFAULT

    assert partitions.create_partition(far) is True
    assert _partition_of(delivery.id) == partitions.partition_name(far)
    assert Delivery.objects.filter(send_month=far, campaign=campaign).count() == 1
    assert partitions.create_partition(far) is False


def test_the_unique_key_holds_across_the_partitioned_table(make_campaign, audience):
    from django.db import IntegrityError, transaction

    campaign = make_campaign(start=False)
    month = timezone.localdate().replace(day=1)
    Delivery.objects.create(send_month=month, campaign=campaign, member=audience[0][0])
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(send_month=month, campaign=campaign, member=audience[0][0])


def test_an_old_partition_detaches_and_live_months_stay(make_campaign, audience):
    old, live = dt.date(2024, 1, 1), timezone.localdate().replace(day=1)
    partitions.create_partition(old)
    campaign = make_campaign(start=False)
    Delivery.objects.create(send_month=old, campaign=campaign, member=audience[0][0])
    Delivery.objects.create(send_month=live, campaign=campaign, member=audience[0][1])

    call_command("delivery_partitions", "--detach", "2024-01")

    assert old not in partitions.partitions()
    assert list(Delivery.objects.filter(campaign=campaign).values_list("send_month", flat=True)) == [live]
    with connection.cursor() as cursor:  # the archived rows are still there, in their own table
        cursor.execute(f'SELECT count(*) FROM "{partitions.partition_name(old)}"')
        assert cursor.fetchone()[0] == 1
    with pytest.raises(ValueError):
        partitions.detach_partition(old)
