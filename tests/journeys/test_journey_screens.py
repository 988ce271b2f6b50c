"""The journey screens per role: the list, the template picker, the editor (a new journey from a
template, a bad step shown beside its row, a live journey's edit saying who stays on which version),
the journey's page with its per-step figures, and the buttons."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from journeys.models import Journey
from journeys.services import journeys as svc
from journeys.services import ticking
from members.models import Member
from tests.journeys.test_journeys import _data, _send, allow

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(**overrides) -> dict:
    form = {"name": "新客欢迎", "trigger": "joined", "entry_rule": "once", "goal": "ordered", "rows": "3",
            "s0-kind": "send", "s0-channel": "outbox", "s0-content": "欢迎 {name}",
            "s1-kind": "wait", "s1-mode": "duration", "s1-days": "2",
            "s2-kind": "task", "s2-task_kind": "follow_up", "s2-priority": "2"}
    form.update(overrides)
    return form


def test_picker_editor_and_save(alice):
    client = as_user(alice)
    picker = client.get("/journeys/new/").content.decode()
    for code in ("new_customer", "holiday", "conversion", "recurring_care"):
        assert f"template-{code}" in picker
    editor = client.get("/journeys/new/?template=conversion")
    assert editor.status_code == 200 and 'data-testid="step-row-3"' in editor.content.decode()
    saved = client.post("/journeys/new/", _form())
    assert saved.status_code == 302
    journey = Journey.objects.get()
    assert [s.kind for s in svc.current_steps(journey)] == ["send", "wait", "task"]


def test_a_bad_step_is_shown_beside_its_row_and_nothing_is_saved(alice):
    answer = as_user(alice).post("/journeys/new/", _form(**{"s1-days": "0", "s2-kind": "branch",
                                                            "s2-condition": "ordered", "s2-goto": "1"}))
    html = answer.content.decode()
    assert answer.status_code == 400 and 'data-testid="s1-errors"' in html and 'data-testid="s2-errors"' in html
    assert "loop" in html and not Journey.objects.exists()


def test_detail_figures_and_buttons(alice, members):
    a, _b = members
    Member.objects.filter(pk=a[0].pk).update(birthday=timezone.localdate().replace(year=1990))
    allow(a[0])
    journey = svc.create_journey(actor=alice, data=_data([_send(), _send("二")]))
    client = as_user(alice)
    assert client.post(f"/journeys/{journey.pk}/activate/").status_code == 302
    ticking.tick(now_fn=lambda: timezone.now() + dt.timedelta(minutes=1))
    page = client.get(f"/journeys/{journey.pk}/").content.decode()
    assert 'data-testid="entered">1<' in page and 'data-testid="step-1-1"' in page
    # A live journey's edit: a new version, and the page says who stays on the old one.
    svc.save_journey(actor=alice, journey=journey, data=_data([_send("新")]))
    edit = client.get(f"/journeys/{journey.pk}/edit/").content.decode()
    assert 'data-testid="version-notice"' in edit
    assert client.post(f"/journeys/{journey.pk}/pause/").status_code == 302
    journey.refresh_from_db()
    assert journey.state == "paused"


def test_roles(alice, bob, carol, store_b):
    other = svc.create_journey(actor=alice, data=_data([_send()], store=store_b))
    brand = svc.create_journey(actor=alice, data=_data([_send()], name="品牌"))
    manager = as_user(bob)
    listed = manager.get("/journeys/").content.decode()
    assert f"journey-{brand.pk}" in listed and f"journey-{other.pk}" not in listed
    assert manager.get(f"/journeys/{other.pk}/").status_code == 404
    assert manager.post(f"/journeys/{brand.pk}/activate/").status_code == 403  # the brand's: read-only
    assert as_user(carol).get("/journeys/").status_code == 403
