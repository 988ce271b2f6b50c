"""Staff tasks and journey runs in a member's data-subject export and erasure, and how they follow a
merge. Erasure
blanks what staff wrote about the person (notes, a custom task's text, the message parameters) and
closes their open tasks; merges move the duplicate's tasks to the survivor, closing a duplicate's open
task of a kind the survivor already has open."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.utils import timezone

from journeys.models import JourneyRun, JourneyRunStep, RunState, Task, TaskState
from members.privacy_registry import ErasureSubject


def export_tasks(member, actor) -> dict:
    rows = list(Task.objects.filter(member=member).order_by("created_at", "id").values(
        "id", "kind", "store__code", "assignee_id", "title", "message", "code", "params", "due_at", "priority",
        "state", "outcome", "note", "done_at", "done_by_id", "source", "created_at"))
    return {"tasks": rows}


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction; idempotent."""
    rows = Task.objects.filter(member_id__in=subject.member_ids)
    closed = rows.filter(state=TaskState.OPEN).update(state=TaskState.EXPIRED)
    blanked = rows.exclude(note="", title="", message="", params={}).update(note="", title="", message="", params={})
    return {"tasks_closed": closed, "tasks_blanked": blanked}


def merge_tasks(survivor_id: int, duplicate_id: int) -> int:
    survivor_open = Task.objects.filter(member_id=survivor_id, state=TaskState.OPEN, kind=OuterRef("kind"))
    Task.objects.filter(member_id=duplicate_id, state=TaskState.OPEN).filter(Exists(survivor_open)).update(
        state=TaskState.SKIPPED, note="merged")
    return Task.objects.filter(member_id=duplicate_id).update(member_id=survivor_id)


def export_journeys(member, actor) -> dict:
    """The member's journey runs and the steps each reached (what happened there, or why not)."""
    runs = list(JourneyRun.objects.filter(member=member).order_by("entered_at", "id").values(
        "id", "journey_id", "journey__name", "version", "period_key", "state", "reason", "trigger_at", "entered_at",
        "finished_at", "converted_at"))
    steps = list(JourneyRunStep.objects.filter(run__member=member).order_by("run_id", "at", "id").values(
        "run_id", "step__position", "step__kind", "outcome", "reason", "at"))
    return {"journey_runs": runs, "journey_steps": steps}


def erase_journeys(subject: ErasureSubject) -> dict:
    """The erased member leaves every journey (no message or task follows); the runs hold no personal
    data beyond the member's id, so they stay for the journeys' figures."""
    closed = JourneyRun.objects.filter(member_id__in=subject.member_ids, state=RunState.ACTIVE).update(
        state=RunState.EXITED, reason="erased", next_due_at=None, finished_at=timezone.now())
    return {"journey_runs_closed": closed}


def merge_runs(survivor_id: int, duplicate_id: int) -> int:
    """The duplicate's runs follow the survivor, but for a journey (and period) the survivor is in
    already: those stay with the duplicate, and its active ones leave (merged)."""
    survivor_has = JourneyRun.objects.filter(member_id=survivor_id, journey_id=OuterRef("journey_id"),
                                             period_key=OuterRef("period_key"))
    mine = JourneyRun.objects.filter(member_id=duplicate_id)
    mine.filter(Exists(survivor_has), state=RunState.ACTIVE).update(
        state=RunState.EXITED, reason="member_gone", next_due_at=None, finished_at=timezone.now())
    return mine.filter(~Exists(survivor_has)).update(member_id=survivor_id)


def register() -> None:
    from members import privacy_registry
    from members.services import merge

    privacy_registry.register_export_part("tasks", export_tasks)
    privacy_registry.register_erasure_step("tasks", erase)
    merge.register_handler(Task, "member", merge_tasks)
    privacy_registry.register_export_part("journeys", export_journeys)
    privacy_registry.register_erasure_step("journeys", erase_journeys)
    merge.register_handler(JourneyRun, "member", merge_runs)
