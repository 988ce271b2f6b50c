"""A member's memberships, sign-ups and check-ins are in their export and on their timeline;
erasure gives up the seats they hold at events to come (the next in line is offered them); a merge
moves sign-ups and never leaves one person two seats at one event."""

from __future__ import annotations

import pytest

from communities.models import SignUp
from communities.services import checkins, signups
from communities.services import communities as community_services
from members import timeline
from members.services import merge, privacy

pytestmark = pytest.mark.django_db


def test_export_timeline_and_erasure(club, make_event, members, alice, bob, carol):
    a, _b = members
    member = a[0]
    community_services.join(community=club, member_id=member.pk, actor=bob)
    past_style = make_event(title="Track night", capacity=5)
    ticket = signups.sign_up(event=past_style, member_id=member.pk, actor=bob).signup
    checkins.check_in(event=past_style, actor=carol, source="scan", code=ticket.code)
    full = make_event(title="Long run", capacity=1)
    seat = signups.sign_up(event=full, member_id=member.pk, actor=bob).signup
    waiting = signups.sign_up(event=full, member_id=a[1].pk, actor=bob).signup

    data = privacy.export_member_data(member=member, actor=alice)["communities"]
    assert [m["community__name"] for m in data["memberships"]] == ["Night runners"]
    assert {s["event__title"] for s in data["signups"]} == {"Track night", "Long run"}
    assert [c["event__title"] for c in data["checkins"]] == ["Track night"]
    texts = [e.text for e in timeline.page(member, alice, kinds=["communities"]).entries]
    assert "Checked in at Track night" in texts and "Joined the community Night runners" in texts

    privacy.erase_member(member=member, actor=alice, reason="request")
    seat.refresh_from_db()
    waiting.refresh_from_db()
    assert seat.state == "cancelled" and waiting.state == "offered"
    ticket.refresh_from_db()
    assert ticket.state == "attended"  # what happened stays, without anything personal


def test_a_merge_leaves_no_one_two_seats(make_event, members, bob):
    a, _b = members
    survivor, duplicate, third = a
    event = make_event(capacity=2)
    other = make_event(title="Hill repeats", capacity=2)
    signups.sign_up(event=event, member_id=survivor.pk, actor=bob)
    signups.sign_up(event=event, member_id=duplicate.pk, actor=bob)
    waiting = signups.sign_up(event=event, member_id=third.pk, actor=bob).signup
    moved = signups.sign_up(event=other, member_id=duplicate.pk, actor=bob).signup
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=bob)
    assert SignUp.objects.filter(event=event, member=survivor, state="confirmed").count() == 1
    waiting.refresh_from_db()
    moved.refresh_from_db()
    assert waiting.state == "offered" and moved.member_id == survivor.pk
    event.refresh_from_db()
    assert event.seats_taken == 2


def test_notices_are_exported_and_unsent_ones_dropped_on_erasure(make_event, members, alice, bob):
    from communities.models import EventReminder

    a, _b = members
    event = make_event(title="Hill repeats", capacity=1)
    seat = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    signups.sign_up(event=event, member_id=a[1].pk, actor=bob)
    signups.cancel(signup=seat, actor=bob)  # a[1] is offered the seat and told
    data = privacy.export_member_data(member=a[1], actor=alice)["communities"]
    assert [n["kind"] for n in data["notices"]] == ["seat_offered"]
    privacy.erase_member(member=a[1], actor=alice, reason="test")
    assert not EventReminder.objects.filter(member=a[1], handed_at__isnull=True).exists()
