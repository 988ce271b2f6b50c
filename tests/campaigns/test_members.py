"""Campaign rows follow a member merge: the duplicate's sends count toward the survivor's caps, and
its deliveries move unless the survivor already has one for that campaign. The tick also runs as a
real Celery task on a worker."""

from __future__ import annotations

import time

import pytest

from campaigns.models import CampaignStatus, Delivery, MemberSendDay, OutboxMessage
from campaigns.services import sending
from members.services import merge

pytestmark = pytest.mark.django_db


def test_caps_and_deliveries_follow_a_merge(audience, make_campaign, policy, alice):
    policy.daily_cap = 1
    policy.save()
    survivor, duplicate = audience[0][0], audience[0][1]
    make_campaign(name="first")
    sending.tick()
    assert MemberSendDay.objects.get(member=duplicate).count == 1

    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)

    assert MemberSendDay.objects.get(member=survivor).count == 2
    assert not MemberSendDay.objects.filter(member=duplicate).exists()
    # Both were in "first": the survivor keeps its own delivery, the duplicate's stays where it was.
    assert Delivery.objects.filter(member=survivor).count() == 1
    second = make_campaign(name="second")
    sending.tick()
    assert Delivery.objects.get(campaign=second, member=survivor).reason == "cap_reached"


@pytest.mark.django_db(transaction=True)
def test_the_tick_runs_on_a_real_worker(celery_worker, store_a, alice, everyone, policy):
    from campaigns import tasks
    from tests.campaigns.conftest import make_members
    from tests.campaigns.test_sending import _states

    make_members(store_a, 20)
    from campaigns.services import campaigns as lifecycle

    campaign = lifecycle.create_campaign(actor=alice, data=lifecycle.CampaignInput(
        name="worker", segment_id=everyone.pk, channel="outbox", content="Hi {name}"))
    lifecycle.approve(campaign=campaign, actor=alice)
    lifecycle.send(campaign=campaign, actor=alice)

    tasks.tick.delay()  # through the broker, as the beat sends it (its result is not kept)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.DONE:
            break
        time.sleep(0.2)
    assert campaign.status == CampaignStatus.DONE
    assert _states(campaign)["sent"] == 20
    assert OutboxMessage.objects.filter(campaign=campaign).count() == 20
