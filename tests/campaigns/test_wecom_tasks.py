"""WeCom mass-message tasks as staff and managers reach them: the phone page lists a clerk's own
tasks waiting for confirmation (a manager their store's, an operator every one), the API lists a
campaign's tasks scoped the same way, and reminding is capped at 3 in 24 hours (409 beyond), safe to
retry with an Idempotency-Key, and not for store staff."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import WecomMassTask
from campaigns.services import sending
from tests.campaigns.wecom import seed, wecom_campaign

pytestmark = pytest.mark.django_db

REMIND = "externalcontact/remind_groupmsg_send"


@pytest.fixture
def waiting(make_corp, wstaff, make_campaign, bob):
    """A store A campaign whose tasks (carol's, erin's) wait for confirmation, and a brand-wide one
    with a task for dave (store B)."""
    server = make_corp(staff=["carol", "erin", "dave"], contacts_per_staff=2, shared_ratio=0, confirm_delay=3600)
    for name in ("carol", "erin", "dave"):
        seed(server.corp, wstaff[name])
    store_campaign = wecom_campaign(make_campaign, actor=bob, name="store A tasting")
    sending.tick()
    brand = wecom_campaign(make_campaign, name="brand launch")
    sending.tick()
    return server, store_campaign, brand


def test_the_phone_page_lists_a_clerks_own_tasks_a_managers_store_and_an_operators_all(
        client, waiting, carol, bob, dave, alice):
    _server, store_campaign, brand = waiting
    client.force_login(carol)
    body = client.get(reverse("campaign-wecom-pending")).content.decode()
    assert body.count('data-testid="wecom-task"') == 2  # carol's task of each campaign
    assert "store A tasting" in body and "brand launch" in body and "Remind" not in body
    client.force_login(dave)
    body = client.get(reverse("campaign-wecom-pending")).content.decode()
    assert body.count('data-testid="wecom-task"') == 1 and "store A tasting" not in body
    client.force_login(bob)  # store A's manager: carol's and erin's, both campaigns
    body = client.get(reverse("campaign-wecom-pending")).content.decode()
    assert body.count('data-testid="wecom-task"') == 4 and "Remind (3 left today)" in body
    client.force_login(alice)
    body = client.get(reverse("campaign-wecom-pending")).content.decode()
    assert body.count('data-testid="wecom-task"') == 5
    # The phone's tabs lead to it, and Today says how many wait.
    client.force_login(carol)
    today = client.get(reverse("mobile-home")).content.decode()
    assert 'data-testid="tab-wecom-sends"' in today
    assert 'data-testid="today-wecom-sends"' in today and "WeCom mass messages wait for you" in today


def test_a_manager_reminds_from_the_phone_page_and_not_another_stores_task(client, waiting, bob):
    server, _store_campaign, brand = waiting
    client.force_login(bob)
    own = WecomMassTask.objects.get(campaign=brand, sender="carol")
    other = WecomMassTask.objects.get(campaign=brand, sender="dave")
    assert client.post(reverse("campaign-wecom-remind", args=[own.pk])).status_code == 302
    assert server.calls(REMIND) == 1
    assert client.post(reverse("campaign-wecom-remind", args=[other.pk])).status_code == 404
    assert server.calls(REMIND) == 1


def test_the_api_lists_a_campaigns_tasks_scoped_by_role(api_client, waiting, alice, bob, carol, dave):
    _server, store_campaign, brand = waiting
    url = f"/api/v1/campaigns/{store_campaign.pk}/wecom-tasks/"
    api_client.force_authenticate(alice)
    answer = api_client.get(url)
    assert answer.status_code == 200, answer.json()
    rows = answer.json()["results"]
    assert sorted(r["sender"] for r in rows) == ["carol", "erin"]
    assert {r["state"] for r in rows} == {"created"} and {r["customers"] for r in rows} == {2}
    assert {r["reminders_left"] for r in rows} == {3}
    api_client.force_authenticate(bob)
    assert len(api_client.get(url).json()["results"]) == 2
    api_client.force_authenticate(carol)
    assert [r["sender"] for r in api_client.get(url).json()["results"]] == ["carol"]
    api_client.force_authenticate(dave)  # another store's campaign
    assert api_client.get(url).status_code == 404
    api_client.force_authenticate(bob)  # a brand-wide campaign is not the manager's
    assert api_client.get(f"/api/v1/campaigns/{brand.pk}/wecom-tasks/").status_code == 404


def test_reminders_through_the_api_are_capped_and_safe_to_retry(api_client, waiting, alice, carol):
    server, store_campaign, _brand = waiting
    task = WecomMassTask.objects.get(campaign=store_campaign, sender="carol")
    url = f"/api/v1/campaigns/{store_campaign.pk}/wecom-tasks/{task.pk}/remind/"
    api_client.force_authenticate(carol)
    assert api_client.post(url, HTTP_IDEMPOTENCY_KEY="c-1").status_code == 403  # staff are reminded, not reminding
    api_client.force_authenticate(alice)
    first = api_client.post(url, HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == 200, first.json()
    assert first.json()["reminders_left"] == 2
    again = api_client.post(url, HTTP_IDEMPOTENCY_KEY="r-1")  # a retry of the same request
    assert again.status_code == 200 and again.json() == first.json()
    assert server.calls(REMIND) == 1
    for n in (2, 3):
        assert api_client.post(url, HTTP_IDEMPOTENCY_KEY=f"r-{n}").status_code == 200
    beyond = api_client.post(url, HTTP_IDEMPOTENCY_KEY="r-4")
    assert beyond.status_code == 409, beyond.json()
    assert beyond.json()["error"]["code"] == "conflict" and "3" in beyond.json()["error"]["message"]
    assert server.calls(REMIND) == 3
    assert len(WecomMassTask.objects.get(pk=task.pk).reminded_at) == 3
