"""A member's open tasks on their card: the member page, the phone's member card and the WeCom chat
sidebar (the same card), the viewer's own first, only what the viewer may see, done in a tap."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from journeys.models import Task
from tests.journeys.test_screens import HTMX, as_user
from wecom.models import WecomContact

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_tasks(make_task, reachable, carol, bob):
    member = reachable[0][0]
    return {
        "greet": make_task(member=member, kind="birthday", priority=1),  # to her as the member's owner
        "mine": make_task(member=member, kind="repurchase_due", assignee_id=carol.pk, priority=2),
        "bobs": make_task(member=member, kind="dormant", assignee_id=bob.pk, priority=1),
        "other_member": make_task(member=reachable[0][1], assignee_id=carol.pk),
        "done": make_task(member=member, kind="welcome", assignee_id=carol.pk),
    }


def _ids(html: str, tasks: dict) -> list[str]:
    at = {name: html.find(f'data-testid="task-{task.pk}"') for name, task in tasks.items()}
    return [name for name, index in sorted(at.items(), key=lambda kv: kv[1]) if index >= 0]


def test_the_sidebar_card_shows_the_members_open_tasks_the_clerks_first(member_tasks, carol, reachable):
    clerk = as_user(carol)
    clerk.post(f"/tasks/{member_tasks['done'].pk}/done/", {"outcome": "reached"}, **HTMX)
    WecomContact.objects.create(external_userid="wmTask01", member=reachable[0][0])
    page = clerk.get(reverse("wecom-sidebar"), {"external_userid": "wmTask01"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="tasks-panel"' in html
    assert _ids(html, member_tasks) == ["greet", "mine", "bobs"]  # hers first, then priority; not done ones
    assert 'data-testid="done-reached"' in html
    # Done from the card: the card leaves, the task is done by her.
    assert clerk.post(f"/tasks/{member_tasks['mine'].pk}/done/", {"outcome": "bought"}, **HTMX).content == b""
    task = Task.objects.get(pk=member_tasks["mine"].pk)
    assert (task.state, task.outcome, task.done_by_id) == ("done", "bought", carol.pk)
    assert 'data-testid="no-member-tasks"' not in clerk.get(f"/m/members/{reachable[0][0].pk}/").content.decode()


def test_the_member_page_and_phone_card_show_it_too_and_a_clerk_elsewhere_sees_nothing(member_tasks, alice,
                                                                                       dave, reachable):
    member = reachable[0][0]
    desktop = as_user(alice).get(reverse("member-detail", args=[member.pk])).content.decode()
    assert _ids(desktop, member_tasks) == ["greet", "bobs", "mine", "done"]  # an operator has none: by priority
    assert as_user(dave).get(f"/m/members/{member.pk}/").status_code == 404  # another store's member


def test_no_tasks_and_more_than_five(make_task, reachable, carol):
    member = reachable[0][2]
    html = as_user(carol).get(f"/m/members/{member.pk}/").content.decode()
    assert 'data-testid="no-member-tasks"' in html
    for i in range(7):
        make_task(member=member, due_at=timezone.now() + dt.timedelta(hours=i + 1))
    html = as_user(carol).get(f"/m/members/{member.pk}/").content.decode()
    assert html.count('class="task-card"') == 5 and "2 more open tasks" in html
