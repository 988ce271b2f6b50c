"""A community mirroring a WeCom customer group: its capacity is at most the group's limit, and the
group's customers take places (known members or not), so joins, invitations and segments stop where
the group would overflow."""

from __future__ import annotations

import pytest
from django.utils import timezone

from communities.models import Invitation
from communities.services import communities as community_services
from communities.services import entry, invitations, wecom_groups
from members.segments import services as segments
from scrm.errors import Conflict, InvalidInput
from wecom.models import CustomerGroup, CustomerGroupMember, GroupMemberKind

pytestmark = pytest.mark.django_db


def group(chat_id, *, customers=(), unknown=0):
    g = CustomerGroup.objects.create(chat_id=chat_id, name="Night runners group")
    for member in customers:
        CustomerGroupMember.objects.create(group=g, userid=f"wm-{member.pk}", kind=GroupMemberKind.CUSTOMER,
                                           member=member, joined_at=timezone.now())
    for i in range(unknown):
        CustomerGroupMember.objects.create(group=g, userid=f"wm-unknown-{i}", kind=GroupMemberKind.CUSTOMER,
                                           joined_at=timezone.now())
    return g


def test_a_mirrored_community_cannot_hold_more_than_the_group(club, bob, store_a, carol):
    with pytest.raises(InvalidInput) as caught:
        community_services.update_community(community=club, actor=bob, wecom_chat_id="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA",
                                            capacity=wecom_groups.GROUP_LIMIT + 1)
    assert "capacity" in caught.value.details and "500" in caught.value.details["capacity"][0]
    community_services.update_community(community=club, actor=bob, capacity=600)  # not mirrored: fine
    with pytest.raises(InvalidInput) as caught:
        community_services.update_community(community=club, actor=bob, wecom_chat_id="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA")
    assert "capacity" in caught.value.details  # mirroring with 600 would exceed the group
    with pytest.raises(InvalidInput):
        community_services.create_community(actor=bob, data=community_services.CommunityInput(
            store=store_a, name="Cyclists", owner=carol, capacity=501, wecom_chat_id="wrOther"))
    community_services.update_community(community=club, actor=bob, capacity=500, wecom_chat_id="wrOgQhDg")
    club.refresh_from_db()
    assert (club.capacity, club.wecom_chat_id) == (500, "wrOgQhDg")


def test_the_groups_customers_count_toward_the_capacity(club, bob, alice, members):
    a, _b = members
    group("wrRun", customers=[a[0]], unknown=3)
    with pytest.raises(InvalidInput) as caught:  # 4 customers in the group: a capacity of 3 is too low
        community_services.update_community(community=club, actor=bob, wecom_chat_id="wrRun", capacity=3)
    assert "4 members" in caught.value.details["capacity"][0]
    CustomerGroupMember.objects.filter(member__isnull=True, userid__in=["wm-unknown-1", "wm-unknown-2"]).update(
        left_at=timezone.now())  # a[0] known, one customer Siyu does not know stays
    club = community_services.update_community(community=club, actor=bob, wecom_chat_id="wrRun", capacity=3)
    assert wecom_groups.occupied(club) == 2  # a[0] mirrored as a member, plus the unknown customer
    community_services.join(community=club, member_id=a[1].pk, actor=bob)
    with pytest.raises(Conflict) as caught:
        community_services.join(community=club, member_id=a[2].pk, actor=bob)
    assert caught.value.code == "community_full"
    with pytest.raises(InvalidInput) as caught:
        community_services.update_community(community=club, actor=bob, capacity=2)
    assert "3 members" in caught.value.details["capacity"][0]


def test_an_invitation_or_a_segment_stops_at_the_group(club, bob, alice, members):
    a, _b = members
    group("wrRun", unknown=2)
    community_services.update_community(community=club, actor=bob, wecom_chat_id="wrRun", capacity=3)
    invitations.invite(community=club, actor=bob, member_ids=[a[0].pk, a[1].pk])
    mine = {i.member_id: i for i in Invitation.objects.all()}
    assert invitations.accept(invitation=mine[a[0].pk]).created
    with pytest.raises(Conflict) as caught:
        invitations.accept(invitation=mine[a[1].pk])
    assert caught.value.code == "community_full"
    segment = segments.create_segment(actor=alice, name="Everyone", definition={"all": []})
    with pytest.raises(Conflict):
        entry.add_segment(community=club, segment_id=segment.pk, actor=bob)
