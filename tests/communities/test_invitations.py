"""Invitations through a channel: picked members (or a segment's) of the community's store get one
notice each through the campaigns' engine (consent decides; a suppression keeps its reason), with
their own signed join link; the link joins once (a second tap: already a member), not after it
expired, not past the capacity; the batch counts invited and joined."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, Delivery
from campaigns.services import notices
from communities import hooks, queries
from communities.models import CommunityMembership, Invitation, InvitationBatch
from communities.services import communities as community_services
from communities.services import invitations
from members.segments import services as segments
from members.services import consent
from scrm.errors import Conflict, InvalidInput
from tests.campaigns.conftest import consent as grant

EVERYONE = {"all": []}


@pytest.fixture
def sender():
    """The campaigns' sender, as campaigns.plugins registers it (another test may have replaced it)."""
    hooks.register_notice_sender(notices.send_event_notices)
    yield
    hooks.register_notice_sender(notices.send_event_notices)


def link_in(text: str) -> str:
    return re.search(r"/join/([^/\s]+)/", text).group(1)


def deliveries():
    return {d.member_id: (d.state, d.reason) for d in Delivery.objects.all()}


@pytest.mark.django_db
def test_picked_members_get_one_notice_each_with_their_own_link(club, bob, alice, members, sender, settings):
    settings.SIYU_PUBLIC_URL = "https://siyu.example.com"
    a, _b = members
    for m in a:
        grant(m)
    consent.set_consent(member=a[1], purpose="marketing", channel="all", granted=False, actor=alice)
    community_services.join(community=club, member_id=a[2].pk, actor=bob)  # already in: skipped
    done = invitations.invite(community=club, actor=bob, member_ids=[a[0].pk, a[1].pk, a[2].pk],
                              message="Come run with us on Thursdays!")
    assert (done.invited, done.skipped) == (2, 1)
    assert invitations.hand_over() == 2
    assert invitations.hand_over() == 0  # handed once
    assert Campaign.objects.count() == 2  # one notice a member: each text has its own link
    assert deliveries() == {a[0].pk: ("pending", ""), a[1].pk: ("suppressed", "opted_out")}
    first = Invitation.objects.get(member=a[0])
    campaign = Campaign.objects.get(pk=int(first.handed_to.split(":")[1]))
    assert "Come run with us on Thursdays!" in campaign.content and "https://siyu.example.com/join/" in campaign.content
    assert invitations.read_token(link_in(campaign.content)) == first.pk
    # The same invitations again are skipped while still open.
    again = invitations.invite(community=club, actor=bob, member_ids=[a[0].pk, a[1].pk])
    assert (again.invited, again.skipped) == (0, 2)


@pytest.mark.django_db
def test_a_selection_never_widens(club, bob, dave, alice, members):
    a, b = members
    with pytest.raises(InvalidInput) as caught:
        invitations.invite(community=club, actor=bob, member_ids=[a[0].pk, b[0].pk])  # b[0]: another store
    assert "members" in caught.value.details and str(b[0].pk) in caught.value.details["members"][0]
    for bad in ({}, {"member_ids": []}, {"member_ids": [a[0].pk], "segment_id": 1}, {"member_ids": ["1"]}):
        with pytest.raises(InvalidInput):
            invitations.invite(community=club, actor=bob, **bad)
    with pytest.raises(InvalidInput) as caught:
        invitations.invite(community=club, actor=bob, segment_id=999_999)
    assert "segment" in caught.value.details
    with pytest.raises(InvalidInput) as caught:
        invitations.invite(community=club, actor=bob, member_ids=[a[0].pk], days=0)
    assert "days" in caught.value.details
    assert not InvitationBatch.objects.exists() and not Invitation.objects.exists()


@pytest.mark.django_db
def test_a_segments_members_of_the_store_are_invited_within_the_bound(club, bob, alice, members, monkeypatch):
    a, b = members
    segment = segments.create_segment(actor=alice, name="Everyone", definition=EVERYONE)
    monkeypatch.setattr(invitations, "MAX_INVITE", 2)
    with pytest.raises(InvalidInput) as caught:
        invitations.invite(community=club, actor=bob, segment_id=segment.pk)
    assert "at most 2" in caught.value.details["segment"][0]
    assert not Invitation.objects.exists()
    monkeypatch.setattr(invitations, "MAX_INVITE", 1000)
    done = invitations.invite(community=club, actor=bob, segment_id=segment.pk)
    assert done.invited == 3 and sorted(Invitation.objects.values_list("member_id", flat=True)) == [m.pk for m in a]


@pytest.mark.django_db
def test_the_link_joins_once_and_refuses_expired_or_full(club, bob, members):
    a, _b = members
    done = invitations.invite(community=club, actor=bob, member_ids=[m.pk for m in a], days=3)
    mine = {i.member_id: i for i in Invitation.objects.all()}
    first = invitations.accept(invitation=mine[a[0].pk])
    assert first.created and first.membership.source == "invitation"
    assert not invitations.accept(invitation=mine[a[0].pk]).created  # a second tap: already a member
    assert CommunityMembership.objects.filter(member=a[0], left_at__isnull=True).count() == 1
    with pytest.raises(Conflict) as caught:
        invitations.accept(invitation=mine[a[1].pk], now=timezone.now() + dt.timedelta(days=4))
    assert caught.value.code == "invitation_expired"
    community_services.update_community(community=club, actor=bob, capacity=1)
    with pytest.raises(Conflict) as caught:
        invitations.accept(invitation=mine[a[2].pk])
    assert caught.value.code == "community_full" and "full (1 members)" in str(caught.value.message)
    batch = queries.batches_with_counts(InvitationBatch.objects.filter(pk=done.batch.pk)).get()
    assert (batch.invited, batch.joined) == (3, 1)


@pytest.mark.django_db
def test_a_made_up_or_changed_token_opens_nothing(client, club, bob, members):
    a, _b = members
    invitations.invite(community=club, actor=bob, member_ids=[a[0].pk])
    token = invitations.token_for(Invitation.objects.get().pk)
    assert invitations.read_token(token[:-2] + "xx") is None
    assert invitations.read_token(invitations.token_for(1).replace("1", "2", 1)) is None
    assert client.get(f"/join/{token[:-2]}xx/").status_code == 404
    assert client.get(f"/join/{token}/").status_code == 200


@pytest.mark.django_db
def test_the_public_page_joins_without_a_login_in_both_languages(client, club, bob, members):
    a, _b = members
    invitations.invite(community=club, actor=bob, member_ids=[a[0].pk, a[1].pk])
    token = invitations.token_for(Invitation.objects.get(member=a[0]).pk)
    page = client.get(f"/join/{token}/")
    assert page.status_code == 200 and b'data-testid="join-button"' in page.content and b"Night runners" in page.content
    joined = client.post(f"/join/{token}/")
    assert b'data-outcome="joined"' in joined.content
    assert b'data-outcome="already"' in client.post(f"/join/{token}/").content
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    chinese = client.get(f"/join/{token}/")
    assert chinese.status_code == 200 and 'lang="zh-hans"' in chinese.content.decode()
    community_services.update_community(community=club, actor=bob, capacity=1)
    other = invitations.token_for(Invitation.objects.get(member=a[1]).pk)
    full = client.post(f"/join/{other}/", HTTP_ACCEPT_LANGUAGE="en")
    assert b'data-code="community_full"' in full.content and b'data-testid="join-button"' not in full.content


@pytest.mark.django_db
def test_the_community_page_shows_each_batch(client, club, bob, members):
    a, _b = members
    invitations.invite(community=club, actor=bob, member_ids=[a[0].pk, a[1].pk])
    invitations.accept(invitation=Invitation.objects.get(member=a[0]))
    client.force_login(bob)
    page = client.get(f"/communities/{club.pk}/").content.decode()
    row = re.search(r'data-testid="batch-\d+">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'batch-invited">2<', row) and re.search(r'batch-joined">1<', row)


@pytest.mark.django_db
def test_the_screen_invites_the_ticked_members(client, club, bob, alice, members):
    a, _b = members
    segment = segments.create_segment(actor=alice, name="Everyone", definition=EVERYONE)
    client.force_login(bob)
    shown = client.get(f"/communities/{club.pk}/from-segment/", {"segment": segment.pk})
    assert f'data-testid="pick-{a[0].pk}"' in shown.content.decode()
    done = client.post(f"/communities/{club.pk}/invite/", {"segment": segment.pk, "member": [a[0].pk, a[2].pk]})
    assert done.status_code == 302
    assert sorted(Invitation.objects.values_list("member_id", flat=True)) == [a[0].pk, a[2].pk]
    assert InvitationBatch.objects.get().segment_id is None  # ticked members, not the whole segment


@pytest.mark.django_db
def test_the_api_invites_once_per_key_and_lists_the_batches(club, bob, dave, members):
    a, _b = members
    client = APIClient()
    client.force_authenticate(bob)
    url = f"/api/v1/communities/{club.pk}/invitations/"
    first = client.post(url, {"members": [a[0].pk, a[1].pk], "days": 7}, format="json", HTTP_IDEMPOTENCY_KEY="inv-1")
    assert first.status_code == 201, first.content
    assert (first.json()["invited"], first.json()["joined"]) == (2, 0)
    replay = client.post(url, {"members": [a[0].pk, a[1].pk], "days": 7}, format="json",
                         HTTP_IDEMPOTENCY_KEY="inv-1")
    assert replay.json() == first.json() and InvitationBatch.objects.count() == 1
    assert client.post(url, {"members": [a[0].pk], "days": 99}, format="json").status_code == 400
    assert client.post(url, {}, format="json").status_code == 400
    listed = client.get(url)
    assert listed.status_code == 200 and [b["id"] for b in listed.json()["results"]] == [first.json()["id"]]
    other = APIClient()
    other.force_authenticate(dave)
    assert other.get(url).status_code == 404
    assert other.post(url, {"members": [a[0].pk]}, format="json").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_hands_the_invitations_over_after_the_commit(club, bob, members, sender, celery_worker):
    a, _b = members
    for m in a:
        grant(m)
    invitations.invite(community=club, actor=bob, member_ids=[a[0].pk, a[1].pk])
    deadline = time.monotonic() + 60
    while Invitation.objects.filter(handed_at__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Invitation.objects.filter(handed_at__isnull=True).exists()
    assert deliveries() == {a[0].pk: ("pending", ""), a[1].pk: ("pending", "")}
