"""The staff tasks API: scopes per role (alice the operator, bob the manager and carol the clerk of store A,
dave the clerk of store B), 404 across stores, filters, the taps (complete, skip, reassign, claim) with
retries, manual tasks, the error shape and a query-count guard on the list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from journeys.models import Task
from tests.journeys.clock import later_today

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def board(make_task, reachable, store_a, carol):
    a, b = reachable
    now = timezone.now()
    return {
        "mine": make_task(member=a[0], kind="birthday", priority=1, due_at=later_today(dt.timedelta(hours=1))),
        "pool": make_task(member=a[1], due_at=now + dt.timedelta(days=2), assignee_id=None),
        "b": make_task(member=b[0], kind="dormant", due_at=now - dt.timedelta(hours=1)),
    }


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_each_role_lists_its_scope(board, alice, bob, carol, dave):
    Task.objects.filter(pk=board["pool"].pk).update(assignee=None)
    everything = {t.pk for t in board.values()}
    store_a = {board["mine"].pk, board["pool"].pk}
    assert _ids(client_for(alice).get("/api/v1/tasks/")) == everything
    assert _ids(client_for(bob).get("/api/v1/tasks/")) == store_a
    assert _ids(client_for(carol).get("/api/v1/tasks/")) == store_a
    assert _ids(client_for(dave).get("/api/v1/tasks/")) == {board["b"].pk}
    for user in (bob, carol):
        assert client_for(user).get(f"/api/v1/tasks/{board['b'].pk}/").status_code == 404
        answer = client_for(user).post(f"/api/v1/tasks/{board['b'].pk}/complete/", {"outcome": "reached"},
                                       format="json")
        assert answer.status_code == 404
    assert Task.objects.get(pk=board["b"].pk).state == "open"


def test_filters(board, alice, carol, store_a):
    Task.objects.filter(pk=board["pool"].pk).update(assignee=None)
    op = client_for(alice)
    assert _ids(op.get(f"/api/v1/tasks/?assignee={carol.pk}")) == {board["mine"].pk}
    assert _ids(op.get("/api/v1/tasks/?pool=true")) == {board["pool"].pk}
    assert _ids(op.get("/api/v1/tasks/?store=BJ01")) == {board["b"].pk}
    assert _ids(op.get("/api/v1/tasks/?kind=birthday")) == {board["mine"].pk}
    assert _ids(op.get(f"/api/v1/tasks/?member={board['b'].member_id}")) == {board["b"].pk}
    soon = (timezone.now() + dt.timedelta(hours=3)).isoformat()
    assert _ids(op.get("/api/v1/tasks/", {"due_before": soon})) == {board["mine"].pk, board["b"].pk}
    assert _ids(op.get("/api/v1/tasks/", {"due_after": soon})) == {board["pool"].pk}
    assert _ids(op.get("/api/v1/tasks/?state=done")) == set()
    bad = op.get("/api/v1/tasks/?state=sleeping")
    assert bad.status_code == 400 and "state" in bad.json()["error"]["details"]


def test_complete_retry_and_skip_refused_after(board, carol):
    phone = client_for(carol)
    url = f"/api/v1/tasks/{board['mine'].pk}/"
    done = phone.post(url + "complete/", {"outcome": "reached", "note": "happy"}, format="json",
                      HTTP_IDEMPOTENCY_KEY="tap-1")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["state"] == "done" and body["outcome"] == "reached" and body["done_by"] == carol.pk
    assert body["priority"] == "high" and "birthday" in body["title"]
    replay = phone.post(url + "complete/", {"outcome": "reached", "note": "happy"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="tap-1")
    assert replay.json() == body
    retried = phone.post(url + "complete/", {"outcome": "bought"}, format="json")  # a retry without a key
    assert retried.status_code == 200 and retried.json()["outcome"] == "reached"
    skip = phone.post(url + "skip/", {"reason": "no"}, format="json")
    assert skip.status_code == 409 and skip.json()["error"]["code"] == "task_done"
    bad = phone.post(url + "complete/", {"outcome": 3}, format="json")
    assert bad.status_code == 400 and "outcome" in bad.json()["error"]["details"]


def test_clerk_cannot_act_on_a_colleagues_task_or_reassign(board, carol, bob, store_a):
    colleague = type(carol).objects.create(username="erin", role="store_staff", store=store_a)
    Task.objects.filter(pk=board["pool"].pk).update(assignee=colleague)
    phone = client_for(carol)
    refused = phone.post(f"/api/v1/tasks/{board['pool'].pk}/complete/", {"outcome": "reached"}, format="json")
    assert refused.status_code == 403
    moved = phone.post(f"/api/v1/tasks/{board['pool'].pk}/reassign/", {"assignee": carol.pk}, format="json")
    assert moved.status_code == 403
    given = client_for(bob).post(f"/api/v1/tasks/{board['pool'].pk}/reassign/", {"assignee": carol.pk},
                                 format="json")
    assert given.status_code == 200 and given.json()["assignee"] == carol.pk
    to_pool = client_for(bob).post(f"/api/v1/tasks/{board['pool'].pk}/reassign/", {"assignee": None},
                                   format="json")
    assert to_pool.json()["assignee"] is None
    claimed = phone.post(f"/api/v1/tasks/{board['pool'].pk}/claim/", format="json")
    assert claimed.status_code == 200 and claimed.json()["assignee"] == carol.pk
    other = client_for(bob).post(f"/api/v1/tasks/{board['pool'].pk}/reassign/", {"assignee": 999999},
                                 format="json")
    assert other.status_code == 400 and "assignee" in other.json()["error"]["details"]


def test_manual_tasks(reachable, bob, carol, dave):
    a, b = reachable
    due = (timezone.now() + dt.timedelta(hours=4)).isoformat()
    made = client_for(carol).post("/api/v1/tasks/", {"store": "SH01", "kind": "follow_up", "member": a[0].pk,
                                                     "due_at": due, "priority": "high"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["assignee"] == carol.pk and made.json()["source"] == "manual"
    custom = client_for(bob).post("/api/v1/tasks/", {"store": "SH01", "kind": "custom", "title": "Restock window",
                                                     "message": "", "due_at": due}, format="json")
    assert custom.status_code == 201 and custom.json()["title"] == "Restock window"
    assert custom.json()["assignee"] is None  # no member, no owner: the pool
    other_store = client_for(carol).post("/api/v1/tasks/", {"store": "BJ01", "kind": "follow_up",
                                                            "member": b[0].pk, "due_at": due}, format="json")
    assert other_store.status_code == 404
    wrong_member = client_for(bob).post("/api/v1/tasks/", {"store": "SH01", "kind": "follow_up",
                                                           "member": b[0].pk, "due_at": due}, format="json")
    assert wrong_member.status_code == 400 and "member" in wrong_member.json()["error"]["details"]
    for body in ({"store": "SH01", "kind": "birthday", "member": a[0].pk, "due_at": due},
                 {"store": "SH01", "kind": "custom", "due_at": due},
                 {"store": "SH01", "kind": "follow_up", "member": "1", "due_at": due},
                 {"store": "XX99", "kind": "custom", "title": "x", "due_at": due}):
        answer = client_for(bob).post("/api/v1/tasks/", body, format="json")
        assert answer.status_code == 400, (body, answer.content)
    assert Task.objects.count() == 2


def test_api_keys_need_the_tasks_scope(board, key_client, store_a):
    reader = key_client(scopes=["tasks:read"], store=store_a)
    assert _ids(reader.get("/api/v1/tasks/")) == {board["mine"].pk, board["pool"].pk}
    refused = reader.post(f"/api/v1/tasks/{board['mine'].pk}/complete/", {"outcome": "reached"}, format="json")
    assert refused.status_code == 403
    none = key_client(scopes=["members:read"])
    assert none.get("/api/v1/tasks/").status_code == 403


def test_list_does_not_query_per_row(make_task, reachable, alice, django_assert_max_num_queries):
    a, b = reachable
    for member in (*a, *b):
        make_task(member=member)
    client = client_for(alice)
    with django_assert_max_num_queries(4):
        assert len(_ids(client.get("/api/v1/tasks/"))) == 5
