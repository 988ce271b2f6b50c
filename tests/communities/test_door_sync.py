"""Offline check-in synced later: each scan keeps its own time, the earlier scan of a member wins
whatever order the batches arrive in, the later one is kept as a conflict (never lost), the same
scan sent twice is one scan, and a malformed batch changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from communities.models import CheckIn, ScanConflict, SignUp
from communities.services import door_sync, signups
from communities.services.door_sync import Scan
from scrm.errors import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def door(make_event, bob, members):
    a, _b = members
    soon = timezone.now() + dt.timedelta(minutes=30)
    event = make_event(starts_at=soon, ends_at=soon + dt.timedelta(hours=2), capacity=3, walk_ins_allowed=False)
    tickets = [signups.sign_up(event=event, member_id=m.pk, actor=bob).signup for m in a]
    return event, tickets


def ago(minutes):
    return timezone.now() - dt.timedelta(minutes=minutes)


def test_the_earlier_scan_wins_whatever_order_they_sync_in(door, bob, carol):
    event, (t0, t1, _t2) = door
    # Phone 2 was online: it checked t0 in at 10 minutes ago.
    first = door_sync.sync_scans(event=event, actor=carol, scans=[Scan(at=ago(10), code=t0.code, device="door 2")])
    assert [r.outcome for r in first] == ["checked_in"]
    # Phone 1 was offline: it scanned t0 at 12 minutes ago (earlier) and t1; it syncs now.
    late = door_sync.sync_scans(event=event, actor=bob, scans=[
        Scan(at=ago(5), code=t1.code.lower(), device="door 1"), Scan(at=ago(12), code=t0.code, device="door 1")])
    assert [r.outcome for r in late] == ["checked_in", "replaced"]
    assert "door 2" in late[1].message
    kept = CheckIn.objects.get(event=event, member=t0.member)
    assert (kept.device, kept.staff_id) == ("door 1", bob.pk)
    assert abs((kept.at - ago(12)).total_seconds()) < 5
    lost = ScanConflict.objects.get()
    assert (lost.device, lost.staff_id, lost.checkin_id) == ("door 2", carol.pk, kept.pk)
    # Phone 2 had also scanned t0 offline later still: that one is the conflict, the check-in stands.
    again = door_sync.sync_scans(event=event, actor=carol, scans=[Scan(at=ago(1), code=t0.code, device="door 2")])
    assert [r.outcome for r in again] == ["earlier_kept"]
    assert CheckIn.objects.filter(event=event).count() == 2 and ScanConflict.objects.count() == 2
    assert SignUp.objects.get(pk=t0.pk).state == "attended"


def test_the_same_batch_sent_twice_is_one_set_of_scans(door, carol):
    event, (t0, t1, _t2) = door
    scans = [Scan(at=ago(3), code=t0.code, device="door 1"), Scan(at=ago(2), code=t1.code, device="door 1")]
    door_sync.sync_scans(event=event, actor=carol, scans=scans)
    again = door_sync.sync_scans(event=event, actor=carol, scans=scans)
    assert [r.outcome for r in again] == ["already", "already"]
    assert CheckIn.objects.count() == 2 and not ScanConflict.objects.exists()


def test_refused_scans_are_answered_and_the_others_stand(door, carol, members):
    event, (t0, _t1, _t2) = door
    _a, b = members
    out = door_sync.sync_scans(event=event, actor=carol, scans=[
        Scan(at=ago(3), code="NOSUCHCODE"), Scan(at=ago(2), code=t0.code)])
    assert [r.outcome for r in out] == ["refused", "checked_in"]
    assert "NOSUCHCODE" in out[0].message


def test_a_malformed_batch_changes_nothing(door, carol):
    event, (t0, t1, _t2) = door
    future = timezone.now() + dt.timedelta(hours=1)
    for scans in ([], [Scan(at=ago(1), code=t0.code), Scan(at=future, code=t1.code)],
                  [Scan(at=ago(1), code=t0.code, member_id=5)], [Scan(at=ago(1), code=t0.code, source="fax")]):
        with pytest.raises(InvalidInput):
            door_sync.sync_scans(event=event, actor=carol, scans=scans)
    assert not CheckIn.objects.exists()


def test_the_batch_route_and_the_phones_sync(door, carol, dave, client):
    event, (t0, t1, _t2) = door
    api = APIClient()
    api.force_authenticate(carol)
    url = f"/api/v1/events/{event.pk}/checkins/batch/"
    body = {"scans": [{"code": t0.code, "at": ago(2).isoformat(), "device": "door 1"}]}
    answer = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="sync-1")
    assert answer.status_code == 200, answer.content
    assert answer.json()["results"][0]["outcome"] == "checked_in"
    assert api.post(url, {"scans": []}, format="json").status_code == 400
    other = APIClient()
    other.force_authenticate(dave)
    assert other.post(url, body, format="json").status_code == 404
    client.force_login(carol)
    phone = client.post(f"/m/events/{event.pk}/check-in/sync/", {"scans": [
        {"code": t1.code, "source": "scan", "at": ago(1).isoformat(), "device": ""}]}, content_type="application/json")
    assert phone.status_code == 200, phone.content
    assert phone.json()["results"][0]["outcome"] == "checked_in" and phone.json()["checked_in"] == 2
    unreadable = client.post(f"/m/events/{event.pk}/check-in/sync/", "nope", content_type="application/json")
    assert unreadable.status_code == 400


def test_the_event_page_shows_the_conflicts(door, bob, carol, client):
    event, (t0, _t1, _t2) = door
    door_sync.sync_scans(event=event, actor=carol, scans=[Scan(at=ago(3), code=t0.code, device="door 2")])
    door_sync.sync_scans(event=event, actor=bob, scans=[Scan(at=ago(1), code=t0.code, device="door 1")])
    client.force_login(bob)
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert 'data-testid="scan-conflicts"' in page and "door 1" in page and "door 2" in page
