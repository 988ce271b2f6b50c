"""Entry from a segment: its members of the community's store suggested or added at once, set-based;
the selection never widens (an unknown or deleted segment is an error, another store's members are
never taken) and past the capacity nobody is added."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from communities.models import CommunityMembership
from communities.services import communities as community_services
from communities.services import entry
from members.models import Member
from members.segments import services as segments
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope

pytestmark = pytest.mark.django_db

EVERYONE = {"all": []}


def open_ids(community):
    return sorted(community.memberships.filter(left_at__isnull=True).values_list("member_id", flat=True))


def test_a_brand_segment_adds_only_the_communitys_store_and_once(club, alice, bob, members):
    a, b = members
    segment = segments.create_segment(actor=alice, name="Everyone", definition=EVERYONE)
    community_services.join(community=club, member_id=a[0].pk, actor=bob)
    Member.objects.filter(pk=a[2].pk).update(erased_at="2026-01-01T00:00:00Z")
    found = entry.suggest(community=club, segment_id=segment.pk, actor=bob)
    assert (found.count, [m.pk for m in found.sample]) == (1, [a[1].pk])
    done = entry.add_segment(community=club, segment_id=segment.pk, actor=alice)
    assert (done.added, done.members) == (1, 2)
    assert open_ids(club) == sorted([a[0].pk, a[1].pk])  # no erased member, nobody of store B
    assert CommunityMembership.objects.get(member=a[1]).source == "segment"
    again = entry.add_segment(community=club, segment_id=segment.pk, actor=alice)
    assert (again.added, again.members) == (0, 2)
    assert not CommunityMembership.objects.filter(member__in=b).exists()


def test_an_unknown_or_deleted_segment_is_an_error_never_everyone(club, alice, bob, members):
    segment = segments.create_segment(actor=alice, name="Soon gone", definition=EVERYONE)
    segments.delete_segment(segment=segment, actor=alice)
    for bad in (segment.pk, 999_999, None, "1"):
        with pytest.raises(InvalidInput) as caught:
            entry.add_segment(community=club, segment_id=bad, actor=bob)
        assert "segment" in caught.value.details
    assert open_ids(club) == []


def test_another_stores_segment_and_staff_are_refused(club, bob, dave, members):
    theirs = segments.create_segment(actor=dave, name="B's", definition=EVERYONE)
    with pytest.raises(InvalidInput):
        entry.add_segment(community=club, segment_id=theirs.pk, actor=bob)  # not visible to bob
    mine = segments.create_segment(actor=bob, name="A's", definition=EVERYONE)
    with pytest.raises((Forbidden, NotInScope)):
        entry.add_segment(community=club, segment_id=mine.pk, actor=dave)
    assert open_ids(club) == []


def test_past_the_capacity_nobody_is_added(club, alice, bob, members):
    a, _b = members
    community_services.update_community(community=club, actor=bob, capacity=2)
    community_services.join(community=club, member_id=a[0].pk, actor=bob)
    segment = segments.create_segment(actor=alice, name="Everyone", definition=EVERYONE)
    with pytest.raises(Conflict) as caught:
        entry.add_segment(community=club, segment_id=segment.pk, actor=bob)
    assert caught.value.code == "community_full" and "room for 1 more" in str(caught.value.message)
    assert open_ids(club) == [a[0].pk]


def test_the_api_suggests_and_adds_once_per_key(club, alice, bob, dave, members):
    a, _b = members
    segment = segments.create_segment(actor=alice, name="Everyone", definition=EVERYONE)
    client = APIClient()
    client.force_authenticate(bob)
    shown = client.get(f"/api/v1/communities/{club.pk}/suggestions/", {"segment": segment.pk})
    assert shown.status_code == 200, shown.content
    assert shown.json()["count"] == 3 and len(shown.json()["sample"]) == 3
    assert client.get(f"/api/v1/communities/{club.pk}/suggestions/").status_code == 400
    url = f"/api/v1/communities/{club.pk}/add-segment/"
    first = client.post(url, {"segment": segment.pk}, format="json", HTTP_IDEMPOTENCY_KEY="entry-1")
    assert first.status_code == 200 and first.json() == {"segment": segment.pk, "added": 3, "members": 3}
    replay = client.post(url, {"segment": segment.pk}, format="json", HTTP_IDEMPOTENCY_KEY="entry-1")
    assert replay.json() == first.json()
    assert client.post(url, {"segment": 999_999}, format="json").status_code == 400
    other = APIClient()
    other.force_authenticate(dave)
    assert other.post(url, {"segment": segment.pk}, format="json").status_code == 404


def test_the_page_previews_and_adds(client, club, alice, bob, carol, dave, members):
    segment = segments.create_segment(actor=alice, name="Everyone", definition=EVERYONE)
    url = f"/communities/{club.pk}/from-segment/"
    client.force_login(bob)
    page = client.get(url, {"segment": segment.pk})
    assert page.status_code == 200 and b'data-testid="suggestion"' in page.content and "3" in page.content.decode()
    assert b'data-testid="form-errors"' in client.get(url, {"segment": 999_999}).content
    done = client.post(url, {"segment": segment.pk})
    assert done.status_code == 302 and len(open_ids(club)) == 3
    client.force_login(dave)
    assert client.get(url).status_code == 404
