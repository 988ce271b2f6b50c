"""Staff task services: creating in sets (dedupe, owner or pool, left staff, other stores, members who
may get no task), done and skip (idempotent, the state rules), reassign, claim, expiry; every bad input
refused with nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from journeys.models import Task, TaskState
from journeys.services import tasks
from members.models import Member
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from tests.journeys.conftest import SYSTEM

pytestmark = pytest.mark.django_db


def _row(member, **fields):
    fields.setdefault("due_at", timezone.now() + dt.timedelta(hours=3))
    return tasks.TaskRow(kind=fields.pop("kind", "follow_up"), store_id=fields.pop("store_id", member.home_store_id),
                         member_id=member.pk, **fields)


def test_create_tasks_goes_to_the_owner_and_dedupes(reachable, carol):
    a, _b = reachable
    rows = [_row(m, dedupe_key=f"birthday:2026:{m.pk}", kind="birthday") for m in a]
    first = tasks.create_tasks(rows=rows, actor=SYSTEM)
    assert first.created == 3 and first.existing == 0
    again = tasks.create_tasks(rows=rows, actor=SYSTEM)
    assert again.created == 0 and again.existing == 3
    assert Task.objects.count() == 3
    assert set(Task.objects.values_list("assignee_id", flat=True)) == {carol.pk}
    assert set(Task.objects.values_list("source", flat=True)) == {"journey"}


def test_owner_who_left_or_moved_leaves_the_task_to_the_pool(reachable, carol, dave):
    a, _b = reachable
    carol.is_active = False
    carol.save()
    Member.objects.filter(pk=a[1].pk).update(owner=dave)  # owner of another store
    made = tasks.create_tasks(rows=[_row(a[0], dedupe_key="x0"), _row(a[1], dedupe_key="x1")], actor=SYSTEM)
    assert made.created == 2
    assert list(Task.objects.values_list("assignee_id", flat=True)) == [None, None]


def test_naming_a_staff_member_who_left_is_refused(reachable, carol):
    carol.is_active = False
    carol.save()
    with pytest.raises(InvalidInput) as err:
        tasks.create_tasks(rows=[_row(reachable[0][0], assignee_id=carol.pk)], actor=SYSTEM)
    assert "has left" in err.value.details["assignee"][0]
    assert not Task.objects.exists()


def test_naming_staff_of_another_store_or_nobody_is_refused(reachable, dave):
    a, _b = reachable
    with pytest.raises(InvalidInput) as err:
        tasks.create_tasks(rows=[_row(a[0]), _row(a[1], assignee_id=dave.pk), _row(a[2], assignee_id=999999)],
                           actor=SYSTEM)
    rows = err.value.details["rows"]
    assert set(rows) == {"1", "2"}
    assert "not staff of the task's store" in rows["1"]["assignee"][0]
    assert "No staff member" in rows["2"]["assignee"][0]
    assert not Task.objects.exists()  # nothing half-written


def test_member_of_another_store_and_bad_fields_are_refused(reachable, store_a):
    a, b = reachable
    with pytest.raises(InvalidInput) as err:
        tasks.create_tasks(rows=[_row(b[0], store_id=store_a.pk)], actor=SYSTEM)
    assert "another store" in err.value.details["member"][0]
    bad = [
        ({"kind": "nap"}, "kind"), ({"priority": 7}, "priority"), ({"due_at": dt.datetime(2026, 1, 1)}, "due_at"),
        ({"kind": "custom", "title": ""}, "title"), ({"title": "x" * 500}, "title"),
        ({"dedupe_key": "k" * 300}, "dedupe_key"), ({"params": ["a"]}, "params"),
    ]
    for fields, name in bad:
        with pytest.raises(InvalidInput) as err:
            tasks.create_tasks(rows=[_row(a[0], **fields)], actor=SYSTEM)
        assert name in err.value.details, (fields, err.value.details)
    with pytest.raises(InvalidInput):
        tasks.create_tasks(rows=[_row(a[0])], actor=SYSTEM, source="magic")
    with pytest.raises(InvalidInput) as err:
        tasks.create_tasks(rows=[tasks.TaskRow(kind="birthday", store_id=store_a.pk, due_at=timezone.now())],
                           actor=SYSTEM)
    assert "member" in err.value.details
    assert not Task.objects.exists()


def test_members_merged_erased_or_without_consent_get_no_task(reachable, members):
    a, _b = reachable
    from members.models import Consent

    Consent.objects.filter(member=a[0]).update(granted=False)
    Member.objects.filter(pk=a[1].pk).update(erased_at=timezone.now())
    Member.objects.filter(pk=a[2].pk).update(merged_into=a[0])
    made = tasks.create_tasks(rows=[_row(m, dedupe_key=f"k{m.pk}") for m in a], actor=SYSTEM)
    assert made.created == 0 and made.skipped == 3
    assert not Task.objects.exists()


def test_a_store_clerk_creates_only_in_their_store(reachable, carol, dave, store_a):
    a, _b = reachable
    with pytest.raises(NotInScope):
        tasks.create_tasks(rows=[_row(a[0])], actor=dave)
    with pytest.raises(Forbidden):
        tasks.create_task(actor=carol, store=store_a, kind="follow_up", member=a[0],
                          assignee=type(carol).objects.create(username="erin", role="store_staff", store=store_a),
                          due_at=timezone.now())
    task = tasks.create_task(actor=carol, store=store_a, kind="custom", title="Call back about the stroller",
                             due_at=timezone.now() + dt.timedelta(hours=1))
    assert task.assignee_id == carol.pk and task.source == "manual"
    assert task.title_text == "Call back about the stroller"


def test_manual_task_for_unreachable_member_is_refused(members, bob, store_a):
    a, _b = members  # no consent given
    with pytest.raises(Conflict) as err:
        tasks.create_task(actor=bob, store=store_a, kind="follow_up", member=a[0], due_at=timezone.now())
    assert err.value.code == "member_unreachable"


def test_complete_is_idempotent_and_counts_once(make_task, carol):
    task = make_task()
    done = tasks.complete(task=task, actor=carol, outcome="reached", note="liked the new shoes")
    assert done.state == TaskState.DONE and done.done_by_id == carol.pk and done.outcome == "reached"
    first_at = done.done_at
    again = tasks.complete(task=task, actor=carol, outcome="bought", note="retry")
    assert again.done_at == first_at and again.outcome == "reached" and again.note == "liked the new shoes"
    assert Task.objects.filter(state="done").count() == 1


def test_a_done_task_cannot_be_skipped_and_skip_is_idempotent(make_task, carol):
    done = tasks.complete(task=make_task(), actor=carol, outcome="no_answer")
    with pytest.raises(Conflict) as err:
        tasks.skip(task=done, actor=carol, reason="changed my mind")
    assert err.value.code == "task_done" and "cannot be skipped" in err.value.message
    skipped = tasks.skip(task=make_task(), actor=carol, reason="on holiday")
    assert tasks.skip(task=skipped, actor=carol).note == "on holiday"
    with pytest.raises(Conflict):
        tasks.complete(task=skipped, actor=carol, outcome="reached")


def test_bad_outcome_and_long_note_are_refused(make_task, carol):
    task = make_task()
    with pytest.raises(InvalidInput) as err:
        tasks.complete(task=task, actor=carol, outcome="maybe")
    assert "outcome" in err.value.details
    with pytest.raises(InvalidInput) as err:
        tasks.complete(task=task, actor=carol, outcome="reached", note="x" * 501)
    assert "note" in err.value.details
    task.refresh_from_db()
    assert task.state == "open"


def test_who_may_act(make_task, carol, bob, dave, alice, store_a):
    colleague = type(carol).objects.create(username="erin", role="store_staff", store=store_a)
    theirs = make_task(assignee_id=colleague.pk)
    with pytest.raises(Forbidden):
        tasks.complete(task=theirs, actor=carol, outcome="reached")
    with pytest.raises(NotInScope):
        tasks.complete(task=theirs, actor=dave, outcome="reached")
    assert tasks.complete(task=theirs, actor=bob, outcome="reached").done_by_id == bob.pk
    assert tasks.skip(task=make_task(assignee_id=colleague.pk), actor=alice).state == "skipped"


def test_pool_claim_once(make_task, carol, bob, store_a):
    colleague = type(carol).objects.create(username="erin", role="store_staff", store=store_a)
    pooled = make_task()
    type(carol).objects.filter(pk=carol.pk).update(is_active=True)
    Task.objects.filter(pk=pooled.pk).update(assignee=None)
    pooled.refresh_from_db()
    assert tasks.can_act(carol, pooled) and tasks.can_act(colleague, pooled)
    taken = tasks.claim(task=pooled, actor=carol)
    assert taken.assignee_id == carol.pk
    assert tasks.claim(task=pooled, actor=carol).assignee_id == carol.pk  # a retried tap
    with pytest.raises(Forbidden):
        tasks.claim(task=pooled, actor=colleague)  # now carol's


def test_concurrent_claim_second_one_learns_who(make_task, carol, store_a):
    colleague = type(carol).objects.create(username="erin", role="store_staff", store=store_a, display_name="Erin")
    pooled = make_task()
    Task.objects.filter(pk=pooled.pk).update(assignee=None)
    stale = Task.objects.get(pk=pooled.pk)
    tasks.claim(task=Task.objects.get(pk=pooled.pk), actor=colleague)
    with pytest.raises((Conflict, Forbidden)):
        tasks.claim(task=stale, actor=carol)


def test_reassign_rules(make_task, carol, bob, dave, store_a):
    task = make_task()
    with pytest.raises(Forbidden):
        tasks.reassign(task=task, actor=carol, assignee=bob)
    assert tasks.reassign(task=task, actor=carol, assignee=None).assignee_id is None  # back to the pool
    with pytest.raises(InvalidInput):
        tasks.reassign(task=task, actor=bob, assignee=dave)
    carol.is_active = False
    carol.save()
    with pytest.raises(InvalidInput) as err:
        tasks.reassign(task=task, actor=bob, assignee=carol)
    assert "has left" in err.value.details["assignee"][0]
    assert tasks.reassign(task=task, actor=bob, assignee=bob).assignee_id == bob.pk
    tasks.complete(task=task, actor=bob, outcome="reached")
    with pytest.raises(Conflict):
        tasks.reassign(task=task, actor=bob, assignee=None)


def test_expire_overdue_is_set_based_and_leaves_the_rest(make_task):
    now = timezone.now()
    old = make_task(due_at=now - dt.timedelta(days=8))
    recent = make_task(due_at=now - dt.timedelta(days=2))
    assert tasks.expire_overdue(now=now, days=7) == 1
    old.refresh_from_db(), recent.refresh_from_db()
    assert (old.state, recent.state) == ("expired", "open")
    assert tasks.expire_overdue(now=now, days=7) == 0


def test_title_and_message_are_worded_in_the_readers_language(make_task):
    from django.utils import translation

    task = make_task(kind="birthday")
    assert task.member.name in task.title_text
    with translation.override("zh-hans"):
        chinese = task.message_text
    assert chinese and task.member.name in chinese
