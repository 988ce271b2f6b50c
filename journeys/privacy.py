"""Staff tasks in a member's data-subject export and erasure, and how they follow a merge. Erasure
blanks what staff wrote about the person (notes, a custom task's text, the message parameters) and
closes their open tasks; merges move the duplicate's tasks to the survivor, closing a duplicate's open
task of a kind the survivor already has open."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from journeys.models import Task, TaskState
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


def register() -> None:
    from members import privacy_registry
    from members.services import merge

    privacy_registry.register_export_part("tasks", export_tasks)
    privacy_registry.register_erasure_step("tasks", erase)
    merge.register_handler(Task, "member", merge_tasks)
