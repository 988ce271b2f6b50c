"""Content calendar test data: a local WeCom server (real HTTP) whose staff are carol and bob (store A)
and dave (store B), linked to their Siyu accounts, and a corp tag linked to a member tag."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.utils import timezone

from journeys.calendar import services
from journeys.calendar.services import PostInput
from wecom.models import WecomStaff


@pytest.fixture
def make_corp(settings):
    from tests.wecom import fake

    with contextlib.ExitStack() as stack:

        def make(**kwargs):
            kwargs.setdefault("staff", ["carol", "bob", "dave", "erin"])
            kwargs.setdefault("contacts_per_staff", 3)
            server = stack.enter_context(fake.running_corp(**kwargs))
            settings.WECOM_API_BASE = server.url
            settings.WECOM_CORP_ID = fake.CORP_ID
            settings.WECOM_SECRET = fake.SECRET
            server.corp.moments.publish_delay = 0
            server.corp.moments.publish_share = 0
            return server

        yield make


@pytest.fixture
def corp(make_corp):
    return make_corp()


@pytest.fixture
def linked(bob, carol, dave, store_a, store_b):
    for user, store in ((carol, store_a), (bob, store_a), (dave, store_b)):
        WecomStaff.objects.create(userid=user.username, name=str(user), user=user, store=store)
    return bob, carol, dave


@pytest.fixture
def plan():
    """plan(actor, **fields) -> a scheduled post through the service (a Moment for store A's staff now)."""

    def make(actor, *, schedule=True, **fields):
        values = {"title": "新品上市", "text": "今天的新品：可可冷萃，来店里尝一尝。", "publish_at": timezone.now(),
                  "audience": "store"}
        values.update(fields)
        if values["audience"] == "store" and "store" not in fields:
            from scrm.models import Store

            values["store"] = Store.objects.get(code="SH01")
        return services.save_post(actor=actor, data=PostInput(**values), schedule=schedule)

    return make


def later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)
