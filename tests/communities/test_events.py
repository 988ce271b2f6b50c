"""Check-ins write event.checked_in in the check-in's transaction, by ticket (scanned) and by staff
(typed or ticked), before the attendance tag's member.tag_added; a second check-in and a refused
walk-in write none."""

from __future__ import annotations

import pytest

from communities.services import checkins, signups
from scrm.models import Event

pytestmark = pytest.mark.django_db


def logged():
    return [(e.type, e.member_id, e.store_id, e.data) for e in Event.objects.order_by("id")]


def test_a_scanned_ticket_checks_in_once_then_the_tag_follows(make_event, members, bob, carol, club):
    a, _b = members
    event = make_event()
    ticket = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    Event.objects.all().delete()
    checkins.check_in(event=event, actor=carol, source="scan", code=ticket.code)
    checkins.check_in(event=event, actor=bob, source="list", member_id=a[0].pk)  # a second door
    found = logged()
    assert found[0] == ("event.checked_in", a[0].pk, a[0].home_store_id, {
        "event": {"id": event.pk, "name": "Night run"}, "community": {"id": club.pk}, "source": "scan",
        "walk_in": False})
    assert [t for t, _m, _s, _d in found] == ["event.checked_in", "member.tag_added"]
    assert found[1][3]["tag"]["id"] == event.attendance_tag_id


def test_staff_check_in_a_walk_in_and_a_refusal_writes_nothing(make_event, members, carol):
    a, _b = members
    open_door = make_event(title="Open run")
    checkins.check_in(event=open_door, actor=carol, source="typed", member_id=a[1].pk)
    assert [(t, d.get("walk_in"), d.get("source")) for t, _m, _s, d in logged() if t == "event.checked_in"] == [
        ("event.checked_in", True, "typed")]
    strict = make_event(title="Members only", walk_ins_allowed=False, capacity=1)
    Event.objects.all().delete()
    with pytest.raises(checkins.WalkInRefused):
        checkins.check_in(event=strict, actor=carol, source="typed", member_id=a[2].pk)
    assert logged() == []


def test_a_brand_wide_event_has_no_community(make_event, members, carol, alice, store_a):
    a, _b = members
    event = make_event(actor=alice, community=None, store=store_a, title="Brand day")
    checkins.check_in(event=event, actor=alice, source="typed", member_id=a[0].pk)
    assert [d["community"] for t, _m, _s, d in logged() if t == "event.checked_in"] == [None]
