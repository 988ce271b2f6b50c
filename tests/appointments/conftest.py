"""Appointments test data: store A open 10:00-18:00 every day, carol (a clerk, optometrist) working
10:00-18:00 every day, an eye test (45 minutes, 15 minutes' buffer) there, and a next weekday noon."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from appointments.services import catalogue

WEEK = list(range(7))


@pytest.fixture
def skill(alice):
    return catalogue.create_skill(actor=alice, name="验光")


@pytest.fixture
def open_store(store_a, bob, carol, skill):
    catalogue.set_opening_hours(actor=bob, store=store_a, rows=[(w, dt.time(10), dt.time(18)) for w in WEEK])
    catalogue.set_working_hours(actor=bob, store=store_a, staff_id=carol.pk,
                                rows=[(w, dt.time(10), dt.time(18)) for w in WEEK])
    catalogue.set_skills(actor=bob, store=store_a, staff_id=carol.pk, skill_ids=[skill.pk])
    return store_a


@pytest.fixture
def eye_test(open_store, bob, skill):
    return catalogue.save_service(actor=bob, store=open_store, values={
        "name": "免费验光", "duration_minutes": 45, "buffer_minutes": 15, "skill": skill, "min_notice_minutes": 60,
        "max_days_ahead": 30, "cancel_hours": 4, "follow_up_days": 7, "follow_up_text": "问问新镜片戴着舒服吗"})


@pytest.fixture
def tomorrow_noon():
    local = timezone.localtime() + dt.timedelta(days=2)
    return timezone.make_aware(dt.datetime.combine(local.date(), dt.time(12)), timezone.get_default_timezone())


@pytest.fixture
def member_a(members):
    return members[0][0]
