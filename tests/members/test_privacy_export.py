"""The data-subject export holds every app's part (orders, points, redemptions, tiers, referrals,
commissions) beside the member centre's, shows an actor no more than the member API shows them
(sensitive attribute values), and is audited without the data it returned."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.orders.services import ingest
from loyalty.points.models import PointsPolicy, Reward
from loyalty.points.services import adjustments, earning, redemption
from loyalty.referrals import services as referrals
from loyalty.referrals.models import CommissionRule, ReferralCode
from loyalty.tiers import services as tiers
from members.models import AttributeDefinition, Member, MemberEvent, MemberMerge, Tag, TagGroup
from members.services import attributes, consent, merge, notes, privacy, upsert
from scrm.models import AuditLog

LEVELS = [{"rank": 1, "name": "可可小白", "threshold": "0"}, {"rank": 2, "name": "可可达人", "threshold": "1000"}]


@pytest.fixture
def customer(alice, carol, store_a, django_capture_on_commit_callbacks):
    """A member who bought (referred by another), earned and redeemed points, has a tier floor, an
    allergy (sensitive) and a favourite flavour (not sensitive)."""
    AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)
    AttributeDefinition.objects.create(code="flavour", label="口味", type="text")
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味"), name="黑巧")
    member = Member.objects.get(pk=upsert.upsert_member(
        identities=[{"channel": "wecom", "external_id": "wm-x1"}],
        profile={"name": "陈静", "phone": "13911112222", "owner": "carol"}, tags=[tag.pk], actor=alice,
    ).member_id)
    consent.set_consent(member=member, purpose="sensitive_data", granted=True, actor=alice)
    attributes.set_attributes(member=member, values={"allergy": "花生", "flavour": "70%"}, actor=alice)
    notes.add_note(member=member, body="喜欢黑巧", actor=carol)
    referrer = Member.objects.create(name="赵敏", phone="+8613722223333", home_store=store_a)
    referrals.generate_codes(member_ids=[member.pk, referrer.pk])
    CommissionRule.objects.create(name="any", rate=Decimal("5"))
    PointsPolicy.objects.create(pk=1, points_per_unit=Decimal("1"), expiry_mode="period_end", expiry_years=1)
    with django_capture_on_commit_callbacks(execute=False):
        tiers.save_ladder(actor=alice, data={"name": "会员", "window_days": 365, "levels": LEVELS})
    order, _ = ingest.record_order(data={
        "channel": "pos", "external_id": "POS-77", "store": store_a.code, "phone": "13911112222",
        "total_amount": "1200.00", "placed_at": (timezone.now() - datetime.timedelta(days=1)).isoformat(),
        "referral_code": ReferralCode.objects.get(member=referrer).code,
        "lines": [{"name": "黑巧礼盒", "category": "gift", "amount": "1200.00"}],
    }, actor=alice)
    earning.sync_orders(order_ids=[order.pk], member_ids=[member.pk])
    referrals.sync_commissions(order_ids=[order.pk])
    adjustments.adjust_points(member=member, points=50, reason="生日", actor=alice)
    redemption.redeem(member=member, reward=Reward.objects.create(name="礼盒", points_cost=100), actor=alice)
    tiers.set_floor(member=member, level_id=tiers.get_ladder().levels.get(rank=2).pk, reason="老客户", actor=alice)
    duplicate = Member.objects.create(name="陈静2", phone="+8613911112222", home_store=store_a,
                                      attributes={"allergy": "花生", "flavour": "55%"})
    merge.merge_members(survivor=member, duplicate=duplicate, actor=alice)
    return member, referrer


def test_export_holds_every_apps_part(alice, customer):
    member, referrer = customer
    data = privacy.export_member_data(member=member, actor=alice)
    assert [o["external_id"] for o in data["orders"]] == ["POS-77"]
    assert data["orders"][0]["total_amount"] == "1200.00" and data["orders"][0]["lines"][0]["name"] == "黑巧礼盒"
    assert data["points"]["balance"] == 1200 + 50 - 100
    assert {e["kind"] for e in data["points_ledger"]} >= {"earn", "adjust", "redeem"}
    assert [r["reward__name"] for r in data["redemptions"]] == ["礼盒"]
    assert data["tier"]["level__name"] == "可可达人" and data["tier"]["floor_reason"] == "老客户"
    assert data["tier_history"] and data["tier_history"][-1]["to_name"] == "可可达人"
    assert data["referrals"]["code"] == ReferralCode.objects.get(member=member).code
    assert data["referrals"]["referred_by"]["referrer_id"] == referrer.pk
    assert data["commissions"] == []  # she earned none; her referrer's export has it
    theirs = privacy.export_member_data(member=referrer, actor=alice)
    assert [c["referred_member_id"] for c in theirs["commissions"]] == [member.pk]
    assert theirs["commissions"][0]["amount"] == "60.00"
    assert "陈静" not in str(theirs)  # the referrer's export names her by id only
    # The member centre's own sections.
    assert data["attributes"] == {"allergy": "花生", "flavour": "70%"}
    assert {i["channel"] for i in data["identities"]} == {"wecom", "phone"}
    assert [t["tag__name"] for t in data["tags"]] == ["黑巧"] and data["notes"][0]["body"] == "喜欢黑巧"
    assert data["consents"][0]["purpose"] == "sensitive_data"
    assert data["merged_profiles"][0]["snapshot"]["attributes"] == {"allergy": "花生", "flavour": "55%"}


def test_export_hides_sensitive_values_from_those_the_member_api_hides_them_from(customer, key_client):
    member, _ = customer
    client = key_client(scopes=["members:read", "privacy:read"], store=member.home_store)
    profile = client.get(f"/api/v1/members/{member.pk}/").json()
    assert "allergy" not in profile["attributes"]
    response = client.get(f"/api/v1/members/{member.pk}/export/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["attributes"] == {"flavour": "70%"}
    assert data["merged_profiles"][0]["snapshot"]["attributes"] == {"flavour": "55%"}
    assert "花生" not in response.content.decode()
    entry = AuditLog.objects.get(action="member.export")
    assert entry.detail["hidden_attributes"] == ["allergy"] and "orders" in entry.detail["sections"]
    assert "花生" not in str(entry.detail) and "13911112222" not in str(entry.detail)
    # a brand-wide key sees what the member API shows it
    brand = key_client(scopes=["members:read", "privacy:read"]).get(f"/api/v1/members/{member.pk}/export/")
    assert brand.json()["attributes"] == {"allergy": "花生", "flavour": "70%"}


def test_export_is_noted_on_the_timeline(alice, customer):
    member, _ = customer
    privacy.export_member_data(member=member, actor=alice)
    assert MemberEvent.objects.filter(member=member, kind="exported").exists()
    assert MemberMerge.objects.filter(survivor=member).exists()
