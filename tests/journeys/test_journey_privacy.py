"""A member's journey runs are in their export (with the steps they reached) and on their timeline;
erasure takes them out of every journey; a merge moves the duplicate's runs to the survivor but for a
journey the survivor is in already."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from journeys.models import JourneyRun
from journeys.services import entry, ticking
from journeys.services.journeys import StepInput
from members import timeline
from members.models import Member
from members.services import merge, privacy
from tests.journeys.test_journeys import _live, _send, allow

pytestmark = pytest.mark.django_db


def _birthdays(*members):
    Member.objects.filter(pk__in=[m.pk for m in members]).update(birthday=timezone.localdate().replace(year=1990))
    allow(*members)


def test_export_timeline_and_erasure(alice, dave, members):
    a, _b = members
    _birthdays(a[0])
    journey = _live(alice, [_send(), StepInput("wait", {"mode": "duration", "days": 5})], name="生日关怀")
    ticking.tick(now_fn=lambda: timezone.now() + dt.timedelta(minutes=1))
    data = privacy.export_member_data(member=a[0], actor=alice)["journeys"]
    assert [r["journey_id"] for r in data["journey_runs"]] == [journey.pk]
    assert [(s["step__position"], s["outcome"]) for s in data["journey_steps"]] == [(1, "queued"), (2, "waited")]
    texts = [e.text for e in timeline.page(a[0], alice, kinds=["journeys"]).entries]
    assert texts == ["Entered the journey 生日关怀 (version 1): In the journey"]
    assert timeline.page(a[0], dave, kinds=["journeys"]).entries == []
    privacy.erase_member(member=a[0], actor=alice, reason="request")
    run = JourneyRun.objects.get()
    assert (run.state, run.reason, run.next_due_at) == ("exited", "erased", None)


def test_a_merge_moves_runs(alice, bob, members):
    a, _b = members
    _birthdays(a[0], a[1])
    both = _live(alice, [StepInput("wait", {"mode": "duration", "days": 5})], name="both")
    entry.run_entries()
    only_dup = _live(alice, [StepInput("wait", {"mode": "duration", "days": 5})], name="dup", trigger="tag_added",
                     trigger_params={"tag": _tag_id()})
    now = timezone.now()
    JourneyRun.objects.create(journey=only_dup, version=1, member=a[1], store=a[1].home_store, trigger_at=now,
                              entered_at=now, next_due_at=now)
    merge.merge_members(survivor=a[0], duplicate=a[1], actor=bob)
    runs = {(r.journey_id, r.member_id): r for r in JourneyRun.objects.all()}
    assert runs[(only_dup.pk, a[0].pk)].state == "active"
    assert runs[(both.pk, a[1].pk)].reason == "member_gone"  # the survivor is in it already
    assert runs[(both.pk, a[0].pk)].state == "active"


def _tag_id() -> int:
    from tests.journeys.test_journeys import _tag

    return _tag("merge").pk
