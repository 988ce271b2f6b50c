"""Communities mirroring a WeCom customer group: joins, leaves and the owner follow the group as the
connector stored it (groups sync and change_external_chat callbacks, applied by wecom.services.groups);
members who joined otherwise stay; running twice changes nothing."""

from __future__ import annotations

import datetime as dt
import types

import pytest
from django.db import transaction
from django.utils import timezone

from communities.services import communities as community_services
from communities.services import wecom_groups
from scrm.errors import InvalidInput
from wecom.models import WecomContact, WecomStaff
from wecom.services import groups

pytestmark = pytest.mark.django_db


def _detail(owner="wx-bob", customers=(), chat="wrOgQhDgAA"):
    return {"chat_id": chat, "name": "夜跑群", "owner": owner, "create_time": 1_700_000_000,
            "member_list": [{"userid": owner, "type": 1, "join_time": 1_700_000_000}]
            + [{"userid": c, "type": 2, "join_time": 1_700_000_100} for c in customers]}


@pytest.fixture
def linked(members, bob, carol):
    a, b = members
    WecomStaff.objects.create(userid="wx-bob", user=bob, store=bob.store)
    WecomStaff.objects.create(userid="wx-carol", user=carol, store=carol.store)
    for i, member in enumerate([*a, *b]):
        WecomContact.objects.create(external_userid=f"wm-{i}", member=member)
    return a, b


def apply(detail, at=None):
    with transaction.atomic():
        groups.apply_group(detail, seen_at=at or timezone.now())


def open_members(club):
    return sorted(club.memberships.filter(left_at__isnull=True).values_list("member_id", "source"))


def test_joins_leaves_and_owner_follow_the_group(club, bob, carol, linked):
    a, b = linked
    community_services.join(community=club, member_id=a[2].pk, actor=bob)  # joined in the store
    apply(_detail(customers=["wm-0", "wm-1", "wm-3", "wm-unknown"]))
    community_services.update_community(community=club, actor=bob, wecom_chat_id="wrOgQhDgAA")  # mirrors at once
    assert open_members(club) == sorted([(a[0].pk, "wecom"), (a[1].pk, "wecom"), (a[2].pk, "store"),
                                         (b[0].pk, "wecom")])
    club.refresh_from_db()
    assert club.owner_id == bob.pk  # the group's owner, staff of the store
    assert wecom_groups.mirror() == wecom_groups.Mirrored(0, 0, 0)  # again: nothing
    # A callback: a-1 left, the group went to carol.
    apply(_detail(owner="wx-carol", customers=["wm-0", "wm-3"]), at=timezone.now() + dt.timedelta(seconds=5))
    wecom_groups.on_chat_event(types.SimpleNamespace(payload={"ChatId": "wrOgQhDgAA"}))
    assert open_members(club) == sorted([(a[0].pk, "wecom"), (a[2].pk, "store"), (b[0].pk, "wecom")])
    club.refresh_from_db()
    assert club.owner_id == carol.pk
    # Dismissed: those the group brought leave; the store's member stays.
    groups.dismiss(groups.CustomerGroup.objects.get(chat_id="wrOgQhDgAA"), at=timezone.now() + dt.timedelta(minutes=1))
    assert wecom_groups.mirror().left == 2
    assert open_members(club) == [(a[2].pk, "store")]


def test_an_owner_of_another_store_is_not_made_owner(club, carol, dave, linked):
    WecomStaff.objects.create(userid="wx-dave", user=dave, store=dave.store)
    apply(_detail(owner="wx-dave", customers=["wm-0"]))
    community_services.update_community(community=club, actor=carol, wecom_chat_id="wrOgQhDgAA")
    club.refresh_from_db()
    assert club.owner_id == carol.pk and club.memberships.count() == 1


def test_one_group_is_mirrored_by_one_community(club, bob, carol, store_a, linked):
    community_services.update_community(community=club, actor=bob, wecom_chat_id="wrOgQhDgAA")
    with pytest.raises(InvalidInput) as caught:
        community_services.create_community(actor=bob, data=community_services.CommunityInput(
            store=store_a, name="Second", owner=carol, wecom_chat_id="wrOgQhDgAA"))
    assert "wecom_chat_id" in caught.value.details
