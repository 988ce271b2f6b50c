"""Fan-out: one delivery per member in one statement, each pending, held out or suppressed with its
reason; an empty or deleted segment is an error, never everyone; a store campaign reaches only its
store's members."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, Delivery
from campaigns.services import fanout
from members.models import Identity, Member
from members.segments import services as segment_services
from scrm.errors import InvalidInput
from tests.campaigns.conftest import consent, make_members

pytestmark = pytest.mark.django_db


def _unused_tag():
    from members.models import Tag, TagGroup

    return Tag.objects.create(group=TagGroup.objects.create(name="无人"), name="nobody")


def _by_member(campaign):
    return {d.member_id: (d.state, d.reason) for d in Delivery.objects.filter(campaign=campaign)}


def test_every_member_gets_one_delivery_with_its_state_and_reason(audience, store_a, make_campaign):
    a, b = audience
    opted_out, no_consent, minor, no_identity, erased = make_members(store_a, 5, prefix="x")
    consent(opted_out, granted=False)
    no_consent.consents.all().delete()
    minor.birthday = timezone.localdate() - dt.timedelta(days=365 * 10)
    minor.save()
    no_identity.phone = ""
    no_identity.save()
    erased.erased_at = timezone.now()
    erased.save()
    guarded = Member.objects.create(name="kid", phone="+8613711112222", home_store=store_a,
                                    birthday=timezone.localdate() - dt.timedelta(days=365 * 8))
    consent(guarded)
    consent(guarded, purpose="guardian")
    by_identity = Member.objects.create(name="wx", phone="", home_store=store_a)
    consent(by_identity)
    Identity.objects.create(member=by_identity, channel="wecom", external_id="wm123")

    campaign = make_campaign()

    got = _by_member(campaign)
    for member in (*a, *b, guarded, by_identity):
        assert got[member.pk] == ("pending", "")
    assert got[opted_out.pk] == ("suppressed", "opted_out")
    assert got[no_consent.pk] == ("suppressed", "no_consent")
    assert got[minor.pk] == ("suppressed", "minor_no_guardian")
    assert got[no_identity.pk] == ("suppressed", "no_identity")
    # The erased member is no longer in the segment's live index: not targeted at all.
    assert erased.pk not in got
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert campaign.snapshot.member_count == len(got)
    assert campaign.send_month == timezone.localdate().replace(day=1)


def test_a_channel_specific_withdrawal_beats_a_consent_for_all_channels(audience, make_campaign):
    member = audience[0][0]
    consent(member, granted=False, channel="all")
    consent(member, granted=True, channel="all")
    # The outbox's marketing consent is the one for all channels; an SMS-only withdrawal does not touch it.
    consent(member, granted=False, channel="sms")
    assert _by_member(make_campaign())[member.pk] == ("pending", "")


def test_fan_out_again_writes_nothing_more(audience, make_campaign):
    campaign = make_campaign()
    before = Delivery.objects.filter(campaign=campaign).count()
    assert fanout.fan_out(campaign=campaign) == 0
    assert Delivery.objects.filter(campaign=campaign).count() == before == 5


def test_the_holdout_is_a_stable_random_share(store_a, make_campaign, alice):
    make_members(store_a, 400)
    campaign = make_campaign(holdout_share=Decimal("0.25"))
    held = set(Delivery.objects.filter(campaign=campaign, state="held_out").values_list("member_id", flat=True))
    assert 60 <= len(held) <= 140  # 25% of 400, give or take
    fanout.fan_out(campaign=campaign)  # same hash, same members
    assert held == set(Delivery.objects.filter(campaign=campaign, state="held_out").values_list("member_id", flat=True))


def test_an_empty_segment_is_an_error_and_writes_nothing(alice, make_campaign, audience):
    nobody = segment_services.create_segment(
        actor=alice, name="nobody", definition={"tags": {"any": [_unused_tag().pk]}}
    )
    with pytest.raises(InvalidInput) as err:
        make_campaign(segment=nobody)
    assert "segment" in err.value.details
    campaign = Campaign.objects.get(name="spring")
    assert campaign.status == CampaignStatus.APPROVED
    assert not Delivery.objects.filter(campaign=campaign).exists()


def test_a_deleted_segment_is_an_error_never_everyone(alice, make_campaign, audience, everyone):
    campaign = make_campaign(start=False)
    from campaigns.services import campaigns as lifecycle

    lifecycle.approve(campaign=campaign, actor=alice)
    segment_services.delete_segment(segment=everyone, actor=alice)
    campaign.refresh_from_db()
    with pytest.raises(InvalidInput) as err:
        lifecycle.send(campaign=campaign, actor=alice)
    assert "deleted" in str(err.value.details["segment"][0])
    assert not Delivery.objects.filter(campaign=campaign).exists()


def test_a_store_campaign_reaches_only_its_store(audience, bob, make_campaign, store_a):
    a, _b = audience
    campaign = make_campaign(actor=bob)  # the brand-wide segment, cut to bob's store
    assert campaign.store_id == store_a.pk
    assert set(_by_member(campaign)) == {m.pk for m in a}
    assert campaign.snapshot.store_id == store_a.pk


def test_a_scheduled_campaign_whose_segment_emptied_goes_back_to_approved_with_the_reason(
    alice, audience, make_campaign
):
    from campaigns.services import campaigns as lifecycle
    from campaigns.services import sending

    nobody = segment_services.create_segment(
        actor=alice, name="later empty", definition={"tags": {"any": [_unused_tag().pk]}}
    )
    campaign = make_campaign(segment=nobody, start=False)
    lifecycle.approve(campaign=campaign, actor=alice)
    campaign = lifecycle.send(campaign=campaign, actor=alice, scheduled_at=timezone.now() + dt.timedelta(minutes=5))
    assert campaign.status == CampaignStatus.SCHEDULED
    sending.tick(now_fn=lambda: timezone.now() + dt.timedelta(minutes=6))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    assert "no members" in campaign.last_error
