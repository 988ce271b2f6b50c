"""Staff tasks: created in sets (rules, journeys, by hand), done, skipped, reassigned, claimed from the
store's pool, and expired once long overdue.

- `create_tasks` inserts any number of rows in one statement with ON CONFLICT (dedupe_key) DO NOTHING,
  so a rule or journey that runs twice creates nothing twice. A row without an assignee goes to the
  member's owner when they are active staff of the task's store, else to the store's pool. A row
  naming an assignee who left (inactive) or who works in another store is refused, as is a member of
  another store; members merged away, erased or without marketing consent get no task (skipped).
- `complete` and `skip` are conditional UPDATEs of an open task: a retried tap finds the task
  already done (or skipped) and answers it as it is, never counting twice. A done task cannot be
  skipped, nor a skipped or expired one done.
- Who may act: a clerk on their own tasks and their store's pool; a store manager on their store's;
  operators (and brand-wide keys, rules) on all. `require_write(actor, "tasks")` comes first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from journeys.models import (
    DEDUPE_MAX,
    MESSAGE_MAX,
    NOTE_MAX,
    TITLE_MAX,
    Task,
    TaskKind,
    TaskOutcome,
    TaskPolicy,
    TaskPriority,
    TaskSource,
    TaskState,
)
from journeys.sql import TASK
from members.models import ConsentChannel, Member
from members.services import consent
from scrm import actors, permissions
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import STORE_ROLES, Role, Store, User
from scrm.scoping import access_for
from scrm.sql import USER, array

RESOURCE = "tasks"
MAX_ROWS = 10_000  # one call of create_tasks; a journey over more members calls it per batch
EXPIRE_BATCH = 10_000
# Tasks reach members through their staff, in WeCom first: the consent that lets a message through there.
CONSENT_CHANNEL = ConsentChannel.WECOM
STORE_LEVEL_KINDS = frozenset({TaskKind.CONFIRM_WECOM_SEND})
# Read once: an enum's .values is worked out again on each use, and a batch checks thousands of rows.
KINDS, PRIORITIES = frozenset(TaskKind.values), frozenset(TaskPriority.values)


@dataclass
class TaskRow:
    """One task to create. `assignee_id` None: the member's owner when active staff of `store_id`,
    else the store's pool. `code` + `params` (worded when read) or, for a custom task, `title` and
    `message` as written."""

    kind: str
    store_id: int
    due_at: dt.datetime
    member_id: int | None = None
    assignee_id: int | None = None
    code: str = ""
    params: dict = field(default_factory=dict)
    title: str = ""
    message: str = ""
    priority: int = TaskPriority.NORMAL
    dedupe_key: str | None = None


@dataclass(frozen=True)
class Created:
    ids: list[int]
    skipped: int  # rows whose member may get no task (merged, erased, no consent)
    existing: int  # rows whose dedupe key was already taken

    @property
    def created(self) -> int:
        return len(self.ids)


# --- who may act ------------------------------------------------------------------------------------------

def _is_clerk(actor) -> bool:
    return getattr(actor, "api_key", None) is None and getattr(actor, "role", None) == Role.STORE_STAFF


def manages_store(actor, store_id: int | None) -> bool:
    """Operators and brand-wide keys everywhere; store managers and store-bound keys in their store."""
    if not permissions.can_write(actor, RESOURCE):
        return False
    if not access_for(actor).allows_store(store_id):
        return False
    return not _is_clerk(actor)


def sees_board(actor) -> bool:
    """The store's board and its export: store managers and operators (and keys that read tasks), not clerks."""
    return not _is_clerk(actor) and permissions.has_scope(actor, f"{RESOURCE}:read") and access_for(actor).reaches_any


def can_act(actor, task: Task) -> bool:
    """Whether `actor` may do, skip or take `task`: a clerk their own and their store's pool tasks."""
    if not permissions.can_write(actor, RESOURCE) or not access_for(actor).allows_store(task.store_id):
        return False
    if _is_clerk(actor):
        return task.assignee_id in (None, actor.pk)
    return True


def _require_act(actor, task: Task) -> None:
    permissions.require_write(actor, RESOURCE)
    if not access_for(actor).allows_store(task.store_id):
        raise NotInScope()
    if not can_act(actor, task):
        raise Forbidden(_("This task is a colleague's: only they, the store's manager or an operator act on it."))


# --- creating ----------------------------------------------------------------------------------------------

def _row_errors(row: TaskRow) -> dict:
    errors: dict[str, list[str]] = {}
    if row.kind not in KINDS:
        errors["kind"] = [_("%(value)s is not one of: %(choices)s.")
                          % {"value": row.kind, "choices": ", ".join(TaskKind.values)}]
    if row.priority not in PRIORITIES:
        errors["priority"] = [_("Priority is 1 (high), 2 (normal) or 3 (low).")]
    if not isinstance(row.due_at, dt.datetime) or timezone.is_naive(row.due_at):
        errors["due_at"] = [_("A date and time with its time zone.")]
    if row.member_id is None and row.kind not in STORE_LEVEL_KINDS and row.kind != TaskKind.CUSTOM:
        errors["member"] = [_("A %(kind)s task is about a member: name one.") % {"kind": row.kind}]
    if row.kind == TaskKind.CUSTOM and not (row.title or "").strip():
        errors["title"] = [_("A custom task needs a title.")]
    if row.kind != TaskKind.CUSTOM and not row.code:
        row.code = row.kind
    for name, limit in (("title", TITLE_MAX), ("message", MESSAGE_MAX), ("dedupe_key", DEDUPE_MAX)):
        value = getattr(row, name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors[name] = [_("At most %(max)d characters of text.") % {"max": limit}]
    if not isinstance(row.params, dict):
        errors["params"] = [_("An object of parameters.")]
    return errors


def _check_rows(rows: list[TaskRow]) -> None:
    if len(rows) > MAX_ROWS:
        raise InvalidInput(details={"rows": [_("At most %(max)d tasks at once.") % {"max": MAX_ROWS}]})
    errors = {}
    for index, row in enumerate(rows):
        found = _row_errors(row)
        if found:
            errors[str(index)] = found
    if errors:
        raise InvalidInput(details={"rows": errors} if len(rows) > 1 else errors["0"])


def _check_references(rows: list[TaskRow]) -> dict[int, tuple[int | None, int | None]]:
    """Stores exist, members belong to the task's store, named assignees are active staff of it.
    Returns each member's (home store, owner) for the rows that name one."""
    store_ids = {r.store_id for r in rows}
    known_stores = set(Store.objects.filter(pk__in=store_ids).values_list("pk", flat=True))
    member_ids = {r.member_id for r in rows if r.member_id is not None}
    members = {pk: (store, owner) for pk, store, owner in
               Member.objects.filter(pk__in=member_ids).values_list("pk", "home_store_id", "owner_id")}
    assignee_ids = {r.assignee_id for r in rows if r.assignee_id is not None}
    staff = {u.pk: u for u in User.objects.filter(pk__in=assignee_ids).only("pk", "is_active", "store_id", "role")}
    errors = {}
    for index, row in enumerate(rows):
        found = {}
        if row.store_id not in known_stores:
            found["store"] = [_("No store %(id)s.") % {"id": row.store_id}]
        if row.member_id is not None:
            if row.member_id not in members:
                found["member"] = [_("No member %(id)s.") % {"id": row.member_id}]
            elif members[row.member_id][0] != row.store_id:
                found["member"] = [_("Member %(id)s belongs to another store.") % {"id": row.member_id}]
        if row.assignee_id is not None:
            user = staff.get(row.assignee_id)
            if user is None:
                found["assignee"] = [_("No staff member %(id)s.") % {"id": row.assignee_id}]
            elif not user.is_active:
                found["assignee"] = [_("%(name)s has left (the account is deactivated): leave the task to the "
                                       "store's pool or name someone else.") % {"name": user}]
            elif user.role not in STORE_ROLES or user.store_id != row.store_id:
                found["assignee"] = [_("%(name)s is not staff of the task's store.") % {"name": user}]
        if found:
            errors[str(index)] = found
    if errors:
        raise InvalidInput(details={"rows": errors} if len(rows) > 1 else errors["0"])
    return members


def _reachable(member_ids) -> set[int]:
    """The members that may get a task: live, and with marketing consent on the task's channel."""
    return set(consent.can_message(list(member_ids), CONSENT_CHANNEL)) if member_ids else set()


INSERT_COLUMNS = ("kind, member_id, store_id, assignee_id, code, params, title, message, due_at, priority, state, "
                  "outcome, note, source, dedupe_key, created_at, created_by_id, created_by_label, done_by_label")
# The member's owner takes the task when active staff of the task's store; else it goes to the pool.
OWNER_JOIN = (f"LEFT JOIN {USER} u ON u.id = c.owner_id AND u.is_active AND u.store_id = c.store_id "
              "AND u.role IN ('store_manager', 'store_staff')")


@transaction.atomic
def create_tasks(*, rows: list[TaskRow], actor, source: str = TaskSource.JOURNEY) -> Created:
    """Create `rows` in one statement; see the module docstring. Bad input changes nothing."""
    if source not in TaskSource.values:
        raise InvalidInput(details={"source": [_("%(value)s is not one of: %(choices)s.")
                                               % {"value": source, "choices": ", ".join(TaskSource.values)}]})
    permissions.require_write(actor, RESOURCE)
    rows = list(rows)
    _check_rows(rows)
    access = access_for(actor)
    outside = sorted({r.store_id for r in rows if not access.allows_store(r.store_id)})
    if outside:
        raise NotInScope(details={"store": [_("Not a store you reach.")]})
    members = _check_references(rows)
    reachable = _reachable(members)
    keep = [r for r in rows if r.member_id is None or r.member_id in reachable]
    if not keep:
        return Created(ids=[], skipped=len(rows), existing=0)
    now = timezone.now()
    columns = {
        "kind": [r.kind for r in keep], "member_id": [r.member_id for r in keep],
        "store_id": [r.store_id for r in keep], "assignee_id": [r.assignee_id for r in keep],
        "owner_id": [members.get(r.member_id, (None, None))[1] for r in keep],
        "code": [r.code for r in keep], "params": [_json(r.params) for r in keep],
        "title": [r.title or "" for r in keep], "message": [r.message or "" for r in keep],
        "due_at": [r.due_at.isoformat() for r in keep], "priority": [int(r.priority) for r in keep],
        "dedupe_key": [r.dedupe_key for r in keep],
    }
    types = {"kind": "text", "member_id": "bigint", "store_id": "bigint", "assignee_id": "bigint",
             "owner_id": "bigint", "code": "text", "params": "text", "title": "text", "message": "text",
             "due_at": "timestamptz", "priority": "int", "dedupe_key": "text"}
    unnest = ", ".join(f"%s::{types[name]}[]" for name in columns)
    sql = (
        f"INSERT INTO {TASK} ({INSERT_COLUMNS}) "
        "SELECT c.kind, c.member_id, c.store_id, COALESCE(c.assignee_id, u.id), c.code, c.params::jsonb, c.title, "
        "c.message, c.due_at, c.priority, 'open', '', '', %s, c.dedupe_key, %s, %s, %s, '' "
        f"FROM unnest({unnest}) AS c({', '.join(columns)}) {OWNER_JOIN} "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
    )
    params = [source, now, getattr(actors.actor_user(actor), "pk", None), actors.actor_label(actor)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params + [array(values) for values in columns.values()])
        ids = sorted(row[0] for row in cursor.fetchall())
    return Created(ids=ids, skipped=len(rows) - len(keep), existing=len(keep) - len(ids))


def _json(value: dict) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def create_task(*, actor, store: Store, kind: str, due_at: dt.datetime, member: Member | None = None,
                assignee: User | None = None, title: str = "", message: str = "",
                priority: int = TaskPriority.NORMAL) -> Task:
    """One task made by hand (a follow-up, a custom to-do). A clerk makes tasks for themself or the pool;
    a member who may get no task (merged, erased, no consent) is refused."""
    permissions.require_write(actor, RESOURCE)
    if not access_for(actor).allows_store(store.pk):
        raise NotInScope(details={"store": [_("Not a store you reach.")]})
    if _is_clerk(actor) and assignee is not None and assignee.pk != actor.pk:
        raise Forbidden(_("A clerk makes tasks for themself or for the store's pool."))
    if member is not None and member.pk not in _reachable([member.pk]):
        raise Conflict(_("This member may get no task: merged, erased or without marketing consent."),
                       details={"member": [str(member.pk)]}, code="member_unreachable")
    row = TaskRow(kind=kind, store_id=store.pk, due_at=due_at, member_id=getattr(member, "pk", None),
                  assignee_id=getattr(assignee, "pk", None), title=title, message=message, priority=priority,
                  code="" if kind == TaskKind.CUSTOM else kind)
    if assignee is None and _is_clerk(actor):
        row.assignee_id = actor.pk
    created = create_tasks(rows=[row], actor=actor, source=TaskSource.MANUAL)
    return Task.objects.get(pk=created.ids[0])


# --- acting ------------------------------------------------------------------------------------------------

def _note(value, name: str = "note") -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > NOTE_MAX:
        raise InvalidInput(details={name: [_("At most %(max)d characters of text.") % {"max": NOTE_MAX}]})
    return value.strip()


def _finish(task: Task, actor, state: str, **values) -> int:
    user = actors.actor_user(actor)
    return Task.objects.filter(pk=task.pk, state=TaskState.OPEN).update(
        state=state, done_at=timezone.now(), done_by=user, done_by_label=actors.actor_label(actor), **values)


@transaction.atomic
def complete(*, task: Task, actor, outcome: str, note: str = "") -> Task:
    """Mark `task` done with its outcome. Idempotent: a task already done answers as it is."""
    _require_act(actor, task)
    if outcome not in TaskOutcome.values:
        raise InvalidInput(details={"outcome": [_("%(value)s is not one of: %(choices)s.")
                                                % {"value": outcome, "choices": ", ".join(TaskOutcome.values)}]})
    note = _note(note)
    if not _finish(task, actor, TaskState.DONE, outcome=outcome, note=note):
        task.refresh_from_db()
        if task.state != TaskState.DONE:
            raise Conflict(_("This task was %(state)s: it can no longer be done.")
                           % {"state": task.get_state_display().lower()}, details={"state": [task.state]},
                           code="task_closed")
    task.refresh_from_db()
    return task


@transaction.atomic
def skip(*, task: Task, actor, reason: str = "") -> Task:
    """Skip `task` (the reason kept as its note). Idempotent; a done task cannot be skipped."""
    _require_act(actor, task)
    reason = _note(reason, "reason")
    if not _finish(task, actor, TaskState.SKIPPED, note=reason):
        task.refresh_from_db()
        if task.state == TaskState.DONE:
            raise Conflict(_("This task is already done: a done task cannot be skipped."),
                           details={"state": [task.state]}, code="task_done")
        if task.state != TaskState.SKIPPED:
            raise Conflict(_("This task has expired: it can no longer be skipped."),
                           details={"state": [task.state]}, code="task_closed")
    task.refresh_from_db()
    return task


@transaction.atomic
def reassign(*, task: Task, actor, assignee: User | None) -> Task:
    """Give an open task to another staff member of its store, or to its pool (None). Managers and
    operators; a clerk may hand their own task back to the pool."""
    permissions.require_write(actor, RESOURCE)
    if not access_for(actor).allows_store(task.store_id):
        raise NotInScope()
    own_back_to_pool = _is_clerk(actor) and assignee is None and task.assignee_id == actor.pk
    if not (manages_store(actor, task.store_id) or own_back_to_pool):
        raise Forbidden(_("Only the store's manager or an operator reassigns tasks."))
    if assignee is not None:
        if not assignee.is_active:
            raise InvalidInput(details={"assignee": [_("%(name)s has left (the account is deactivated).")
                                                     % {"name": assignee}]})
        if assignee.role not in STORE_ROLES or assignee.store_id != task.store_id:
            raise InvalidInput(details={"assignee": [_("%(name)s is not staff of the task's store.")
                                                     % {"name": assignee}]})
    new = getattr(assignee, "pk", None)
    if not Task.objects.filter(pk=task.pk, state=TaskState.OPEN).update(assignee_id=new):
        task.refresh_from_db()
        raise Conflict(_("Only an open task can be reassigned."), details={"state": [task.state]},
                       code="task_closed")
    task.refresh_from_db()
    return task


@transaction.atomic
def claim(*, task: Task, actor) -> Task:
    """Take a task from the store's pool: one conditional UPDATE, so two clerks tapping at once
    cannot both have it. Taking a task one already has answers it as it is."""
    _require_act(actor, task)
    user = actors.actor_user(actor)
    if user is None or user.role not in STORE_ROLES or user.store_id != task.store_id:
        raise Forbidden(_("Only the store's staff take tasks from its pool."))
    if not Task.objects.filter(pk=task.pk, state=TaskState.OPEN, assignee__isnull=True).update(assignee=user):
        task.refresh_from_db()
        if task.assignee_id == user.pk and task.state == TaskState.OPEN:
            return task
        if task.state != TaskState.OPEN:
            raise Conflict(_("This task is no longer open."), details={"state": [task.state]}, code="task_closed")
        raise Conflict(_("%(name)s took this task first.") % {"name": task.assignee}, code="task_taken")
    task.refresh_from_db()
    return task


def expire_overdue(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Open tasks due more than `days` ago (the policy's) expire, in batches of one statement each."""
    now = now or timezone.now()
    days = TaskPolicy.current().expire_after_days if days is None else days
    cutoff = now - dt.timedelta(days=days)
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {TASK} SET state = 'expired' WHERE id IN (SELECT id FROM {TASK} WHERE state = 'open' "
                "AND due_at < %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)", [cutoff, EXPIRE_BATCH])
            count = cursor.rowcount
        total += count
        if count < EXPIRE_BATCH:
            return total
