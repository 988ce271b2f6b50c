"""The task settings page (/tasks/settings/): operators add, edit and remove repurchase cycles and change
the task policy, every bad value refused naming its field with nothing written; store managers read
it; clerks have no page; it reads on a phone, in English and Chinese."""

from __future__ import annotations

import pytest
from django.urls import reverse

from journeys.models import RepurchaseCycle, TaskPolicy
from journeys.services import task_settings as service
from scrm.errors import Forbidden, InvalidInput

pytestmark = pytest.mark.django_db
PAGE = "/tasks/settings/"


def test_an_operator_adds_edits_and_removes_a_cycle(client, alice):
    client.force_login(alice)
    page = client.get(PAGE)
    assert page.status_code == 200 and 'data-testid="cycle-form"' in page.content.decode()
    answer = client.post(reverse("journeys-cycle-add"), {"category": "奶粉", "days": "30"})
    assert answer.status_code == 302
    cycle = RepurchaseCycle.objects.get()
    assert (cycle.category, cycle.days) == ("奶粉", 30)
    assert "奶粉" in client.get(PAGE).content.decode()
    edit = client.get(PAGE, {"edit": cycle.pk}).content.decode()
    assert reverse("journeys-cycle-edit", args=[cycle.pk]) in edit and 'value="30"' in edit
    assert client.post(reverse("journeys-cycle-edit", args=[cycle.pk]), {"category": "奶粉", "days": "28"}) \
        .status_code == 302
    assert RepurchaseCycle.objects.get().days == 28
    assert client.post(reverse("journeys-cycle-delete", args=[cycle.pk])).status_code == 302
    assert not RepurchaseCycle.objects.exists()


def test_bad_cycles_are_refused_naming_the_field(client, alice):
    client.force_login(alice)
    RepurchaseCycle.objects.create(category="纸尿裤", days=20)
    for data, field in [({"category": "", "days": "30"}, "category"), ({"category": "x", "days": "0"}, "days"),
                        ({"category": "x", "days": "731"}, "days"), ({"category": "纸尿裤", "days": "9"}, "category")]:
        answer = client.post(reverse("journeys-cycle-add"), data)
        assert answer.status_code == 400, data
        assert answer.context["cycle_form"].errors.get(field), (data, answer.context["cycle_form"].errors)
    assert list(RepurchaseCycle.objects.values_list("category", "days")) == [("纸尿裤", 20)]
    with pytest.raises(InvalidInput) as excinfo:
        service.save_cycle(actor=alice, category="纸尿裤 ", days=10)
    assert "category" in excinfo.value.details


def test_the_policy_is_saved_and_checked(client, alice):
    client.force_login(alice)
    values = {"daily_cap": "12", "dormant_days": "90", "expire_after_days": "5", "orders_window_days": "3"}
    assert client.post(PAGE, values).status_code == 302
    policy = TaskPolicy.current()
    assert (policy.daily_cap, policy.dormant_days, policy.expire_after_days, policy.orders_window_days) == \
        (12, 90, 5, 3)
    answer = client.post(PAGE, {**values, "daily_cap": "0", "dormant_days": "2000"})
    assert answer.status_code == 400
    assert set(answer.context["policy_form"].errors) == {"daily_cap", "dormant_days"}
    assert TaskPolicy.current().daily_cap == 12
    with pytest.raises(InvalidInput) as excinfo:
        service.update_policy(actor=alice, values={"daily_cap": 10, "priority": 1})
    assert set(excinfo.value.details) == {"priority"} and TaskPolicy.current().daily_cap == 12


def test_store_managers_read_and_clerks_have_no_page(client, bob, carol):
    RepurchaseCycle.objects.create(category="咖啡豆", days=21)
    client.force_login(bob)
    page = client.get(PAGE).content.decode()
    assert "咖啡豆" in page and 'data-testid="cycle-form"' not in page and 'data-testid="policy-form"' not in page
    assert client.post(reverse("journeys-cycle-add"), {"category": "x", "days": "3"}).status_code == 403
    assert client.post(PAGE, {"daily_cap": "3"}).status_code == 403
    assert RepurchaseCycle.objects.count() == 1
    with pytest.raises(Forbidden):
        service.update_policy(actor=bob, values={"daily_cap": 3})
    client.force_login(carol)
    assert client.get(PAGE).status_code == 403


def test_the_page_reads_on_a_phone_in_both_languages(client, alice):
    client.force_login(alice)
    RepurchaseCycle.objects.create(category="奶粉", days=30)
    english = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Repurchase cycles" in english and 'class="table-scroll"' in english
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'lang="zh-hans"' in chinese and "奶粉" in chinese
