"""Staff task test data: members of store A (owned by carol) and B (owned by dave) who consented to
marketing on WeCom, and a maker of tasks through the service."""

from __future__ import annotations

import datetime as dt

import pytest

from journeys.services import tasks
from members.models import ConsentChannel, ConsentPurpose
from members.services import consent
from scrm.actors import SystemActor
from tests.journeys.clock import later_today

SYSTEM = SystemActor("rule:test")


def allow(*members):
    for member in members:
        consent.set_consent(member=member, purpose=ConsentPurpose.MARKETING, channel=ConsentChannel.WECOM,
                            granted=True, actor=SYSTEM)


@pytest.fixture
def reachable(members):
    a, b = members
    allow(*a, *b)
    return a, b


@pytest.fixture
def make_task(reachable):
    counter = iter(range(1, 100_000))

    def make(*, member=None, store=None, actor=SYSTEM, kind="follow_up", due_at=None, **fields):
        member = member if member is not None else reachable[0][0]
        store_id = store.pk if store is not None else member.home_store_id
        row = tasks.TaskRow(kind=kind, store_id=store_id, member_id=member.pk if member else None,
                            due_at=due_at or later_today(dt.timedelta(hours=2)),
                            dedupe_key=fields.pop("dedupe_key", f"test:{next(counter)}"), **fields)
        created = tasks.create_tasks(rows=[row], actor=actor, source="rule")
        from journeys.models import Task

        return Task.objects.get(pk=created.ids[0])

    return make
