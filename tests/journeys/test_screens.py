"""The staff task screens per role: the phone's Today section (my tasks within the daily cap, the pool,
a manager's overdue roll-up), /tasks/m/ with its filters, the taps through htmx, the board with
reassign, figures and the CSV export."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from journeys.models import Task, TaskPolicy
from loyalty.orders.models import Order
from tests.journeys.clock import later_today

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def today(make_task, reachable):
    a, b = reachable
    now = timezone.now()
    return {
        "greet": make_task(member=a[0], kind="birthday", priority=1, due_at=later_today(dt.timedelta(minutes=30))),
        "later": make_task(member=a[1], due_at=now + dt.timedelta(days=3)),
        "late": make_task(member=a[2], kind="dormant", due_at=now - dt.timedelta(hours=5)),
        "b": make_task(member=b[0], kind="welcome"),
    }


def test_today_section_for_a_clerk(today, carol, reachable):
    page = as_user(carol).get("/m/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-testid="task-{today["greet"].pk}"' in html and f'data-testid="task-{today["late"].pk}"' in html
    assert f'data-testid="task-{today["later"].pk}"' not in html  # not due today
    assert f'data-testid="task-{today["b"].pk}"' not in html
    assert html.index(f'task-{today["greet"].pk}"') < html.index(f'task-{today["late"].pk}"')  # priority first
    assert "Copy message" in html and 'data-testid="done-reached"' in html
    assert f'/m/members/{reachable[0][0].pk}/' in html


def test_daily_cap_keeps_the_rest_queued(make_task, reachable, carol):
    policy = TaskPolicy.current()
    policy.daily_cap = 2
    policy.save()
    a, _b = reachable
    made = [make_task(member=a[i % 3], due_at=later_today(dt.timedelta(minutes=10 + i))) for i in range(5)]
    html = as_user(carol).get("/m/").content.decode()
    assert html.count('class="task-card"') == 2 and "3 more queued" in html
    assert all(f"task-{t.pk}\"" in html for t in made[:2])
    as_user(carol).post(f"/tasks/{made[0].pk}/done/", {"outcome": "reached"}, **HTMX)
    html = as_user(carol).get("/m/").content.decode()
    assert f"task-{made[2].pk}\"" in html and "2 more queued" in html  # the next one moves up, none lost


def test_pool_and_take_it(today, carol, store_a):
    Task.objects.filter(pk=today["greet"].pk).update(assignee=None)
    html = as_user(carol).get("/m/").content.decode()
    assert 'data-testid="today-pool"' in html and 'data-testid="take"' in html
    taken = as_user(carol).post(f"/tasks/{today['greet'].pk}/claim/", **HTMX)
    assert taken.status_code == 200 and 'data-testid="done-reached"' in taken.content.decode()
    assert Task.objects.get(pk=today["greet"].pk).assignee_id == carol.pk


def test_done_and_skip_taps(today, carol, dave):
    phone = as_user(carol)
    gone = phone.post(f"/tasks/{today['greet'].pk}/done/", {"outcome": "bought"}, **HTMX)
    assert gone.status_code == 200 and gone.content == b""
    task = Task.objects.get(pk=today["greet"].pk)
    assert (task.state, task.outcome, task.done_by_id) == ("done", "bought", carol.pk)
    again = phone.post(f"/tasks/{today['greet'].pk}/done/", {"outcome": "bought"}, **HTMX)
    assert again.status_code == 200
    refused = phone.post(f"/tasks/{today['greet'].pk}/skip/", HTTP_REFERER="http://testserver/m/", **HTMX)
    assert refused.status_code == 204 and refused["HX-Redirect"] == "http://testserver/m/"
    assert Task.objects.get(pk=today["greet"].pk).state == "done"
    skipped = phone.post(f"/tasks/{today['late'].pk}/skip/", {"reason": "away"})
    assert skipped.status_code == 302
    assert Task.objects.get(pk=today["late"].pk).state == "skipped"
    assert as_user(dave).post(f"/tasks/{today['later'].pk}/done/", {"outcome": "reached"}).status_code == 404
    assert phone.get(f"/tasks/{today['later'].pk}/done/").status_code == 405


def test_phone_tasks_page_filters(today, carol):
    phone = as_user(carol)
    def shown(when):
        html = phone.get(f"/tasks/m/?when={when}").content.decode()
        return {t.pk for t in today.values() if f'data-testid="task-{t.pk}"' in html}
    assert shown("today") == {today["greet"].pk, today["late"].pk}
    assert shown("overdue") == {today["late"].pk}
    assert shown("upcoming") == {today["later"].pk}


def test_manager_sees_the_overdue_roll_up_and_the_board(today, bob, carol, alice, dave):
    assert 'data-testid="today-overdue"' in as_user(bob).get("/m/").content.decode()
    page = as_user(bob).get("/tasks/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'board-task-{today["greet"].pk}"' in html and f'board-task-{today["b"].pk}"' not in html
    assert html.index(f'board-task-{today["late"].pk}"') < html.index(f'board-task-{today["greet"].pk}"')
    assert 'data-testid="task-figures"' in html
    assert as_user(carol).get("/tasks/").status_code == 403
    assert as_user(dave).get("/tasks/export.csv").status_code == 403
    everything = as_user(alice).get("/tasks/").content.decode()
    assert f'board-task-{today["b"].pk}"' in everything
    filtered = as_user(alice).get(f"/tasks/?assignee={carol.pk}&kind=dormant").content.decode()
    assert f'board-task-{today["late"].pk}"' in filtered and f'board-task-{today["greet"].pk}"' not in filtered


def test_reassign_from_the_board(today, bob, dave):
    staff = type(bob).objects.create(username="erin", role="store_staff", store=bob.store)
    answer = as_user(bob).post(f"/tasks/{today['greet'].pk}/reassign/", {"assignee": staff.pk},
                               HTTP_REFERER="http://testserver/tasks/")
    assert answer.status_code == 302
    assert Task.objects.get(pk=today["greet"].pk).assignee_id == staff.pk
    as_user(bob).post(f"/tasks/{today['greet'].pk}/reassign/", {"assignee": ""})
    assert Task.objects.get(pk=today["greet"].pk).assignee_id is None
    refused = as_user(bob).post(f"/tasks/{today['greet'].pk}/reassign/", {"assignee": dave.pk},
                                HTTP_REFERER="http://testserver/tasks/")
    assert refused.status_code == 302 and Task.objects.get(pk=today["greet"].pk).assignee_id is None


def test_csv_export_and_figures(today, bob, carol):
    from decimal import Decimal

    from journeys.services import tasks

    tasks.complete(task=today["greet"], actor=carol, outcome="reached")
    Order.objects.create(channel="pos", external_id="F1", member=today["greet"].member, store=bob.store,
                         total_amount=Decimal("99"), placed_at=timezone.now() + dt.timedelta(minutes=1))
    from journeys import queries

    figures = queries.figures(bob, since=timezone.now() - dt.timedelta(days=1))
    mine = next(r for r in figures["staff"] if r["assignee_id"] == carol.pk)
    assert (mine["created"], mine["done"], mine["on_time"], mine["outcome_reached"], mine["ordered"]) == (3, 1, 1, 1, 1)
    assert [r["store__code"] for r in figures["stores"]] == ["SH01"]
    export = as_user(bob).get("/tasks/export.csv?state=done")
    body = b"".join(export.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("id,store,kind") and len(lines) == 2 and "reached" in lines[1]


def test_chinese_today(today, carol):
    html = as_user(carol).get("/m/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert today["greet"].member.name in html


def test_phone_whole_store_shows_colleagues_tasks_without_their_buttons(today, carol, store_a):
    colleague = type(carol).objects.create(username="erin", role="store_staff", store=store_a, display_name="Erin")
    Task.objects.filter(pk=today["later"].pk).update(assignee=colleague)
    html = as_user(carol).get("/tasks/m/?all=1").content.decode()
    assert f'data-testid="task-{today["later"].pk}"' in html and f'data-testid="task-{today["b"].pk}"' not in html
    card = html[html.index(f'data-testid="task-{today["later"].pk}"'):]
    card = card[:card.index("</li>")]
    assert "Erin" in card and "done-reached" not in card
