"""A member's tasks are in their export and (when done) on their timeline; erasure blanks what staff
wrote and closes their open tasks; a merge moves tasks to the survivor without leaving two open tasks
of one kind."""

from __future__ import annotations

import pytest

from journeys.models import Task
from journeys.services import tasks
from members import timeline
from members.services import merge, privacy

pytestmark = pytest.mark.django_db


def test_export_timeline_and_erasure(make_task, reachable, alice, carol, dave):
    member = reachable[0][0]
    greeted = make_task(member=member, kind="birthday")
    tasks.complete(task=greeted, actor=carol, outcome="reached", note="she loves the red shoes")
    open_one = make_task(member=member, kind="custom", title=f"Call {member.name} about the refund")

    data = privacy.export_member_data(member=member, actor=alice)["tasks"]["tasks"]
    assert {t["id"] for t in data} == {greeted.pk, open_one.pk}
    assert any(t["note"] == "she loves the red shoes" for t in data)
    texts = [e.text for e in timeline.page(member, alice, kinds=["tasks"]).entries]
    assert texts == ["Birthday greeting by Carol: Reached"]
    assert timeline.page(member, dave, kinds=["tasks"]).entries == []  # another store's reader

    privacy.erase_member(member=member, actor=alice, reason="request")
    greeted.refresh_from_db()
    open_one.refresh_from_db()
    assert (greeted.state, greeted.note) == ("done", "")
    assert (open_one.state, open_one.title) == ("expired", "")


def test_a_merge_moves_tasks(make_task, reachable, bob):
    survivor, duplicate, _third = reachable[0]
    kept = make_task(member=survivor, kind="dormant")
    clash = make_task(member=duplicate, kind="dormant")
    moved = make_task(member=duplicate, kind="welcome")
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=bob)
    assert set(Task.objects.filter(member=survivor).values_list("pk", flat=True)) == {kept.pk, clash.pk, moved.pk}
    assert Task.objects.filter(member=survivor, state="open", kind="dormant").count() == 1
    clash.refresh_from_db()
    assert clash.state == "skipped"
