"""Retention, through the broker and a real worker: the periodic job deletes import files and error
reports past the brand's upload retention (and the errors kept with them), erases members inactive
past the member retention when one is set, in bounded batches, and records what it did."""

from __future__ import annotations

import datetime
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from loyalty.orders.models import Order
from members.io import services as imports
from members.io.models import ImportJob
from members.models import Member, MemberEvent
from members.tasks import run_retention
from scrm.celery import app
from scrm.models import AuditLog
from tests.helpers import wait_for

LONG_AGO = timezone.now() - datetime.timedelta(days=400)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _import(actor, content: str):
    job = imports.create_import(actor=actor, upload=SimpleUploadedFile("m.csv", content.encode()), mode="valid_rows")
    return imports.run_import(job_id=job.pk)


def _files(root) -> set[str]:
    return {str(Path(d, n).relative_to(root)) for d, _s, names in os.walk(root) for n in names}


def _old(model, pk, **fields):
    model.objects.filter(pk=pk).update(**fields)


def _run_and_wait():
    before = AuditLog.objects.filter(action="privacy.retention").count()
    run_retention.delay()
    assert wait_for(lambda: AuditLog.objects.filter(action="privacy.retention").count() > before, timeout=30)
    return AuditLog.objects.filter(action="privacy.retention").order_by("-id").first()


def test_the_job_is_scheduled_with_an_expiry():
    entry = app.conf.beat_schedule["privacy-retention"]
    assert entry["task"] == run_retention.name and entry["options"]["expires"] > 0


def test_old_uploads_and_reports_go_recent_ones_stay(celery_worker, alice, store_a, settings):
    settings.SIYU_UPLOAD_RETENTION_DAYS = 30
    old = _import(alice, "name,phone\n王一,13800138001\n,not a phone\n")
    recent = _import(alice, "name,phone\n王二,13800138002\n,not a phone\n")
    assert old.report and old.errors and recent.report
    _old(ImportJob, old.pk, created_at=timezone.now() - datetime.timedelta(days=31))
    # a file no job points to any more (its job was deleted), older than the period
    stray = Path(settings.MEDIA_ROOT, "imports", "2020", "01", "stray-王三.csv")
    stray.parent.mkdir(parents=True)
    stray.write_text("name,phone\n王三,13800138003\n")
    os.utime(stray, (LONG_AGO.timestamp(), LONG_AGO.timestamp()))
    old_names = {old.file.name, old.report.name}

    entry = _run_and_wait()

    left = _files(settings.MEDIA_ROOT)
    assert not (old_names & left) and str(stray.relative_to(settings.MEDIA_ROOT)) not in left
    assert {recent.file.name, recent.report.name} <= left
    old.refresh_from_db()
    assert (old.file.name, old.report.name, old.errors) == ("", "", [])
    assert old.rows_total == 2 and old.error_count > 0  # the job's history stays, with its counts
    assert entry.detail["counts"]["uploads"] == {"jobs": 1, "files": 2, "orphans": 1}
    assert entry.detail["counts"]["members_erased"] == 0  # member retention is off by default
    assert entry.detail["by"] == "rule:retention" and entry.detail["upload_retention_days"] == 30
    # a second run finds nothing more
    again = _run_and_wait()
    assert again.detail["counts"]["uploads"] == {"jobs": 0, "files": 0, "orphans": 0}


def test_inactive_members_are_erased_when_the_brand_sets_a_period(celery_worker, alice, store_a, settings):
    settings.SIYU_MEMBER_RETENTION_DAYS = 365
    settings.SIYU_RETENTION_BATCH = 2
    dormant = [Member.objects.create(name=f"沉睡{i}", phone=f"+861380013900{i}", home_store=store_a) for i in range(3)]
    buyer = Member.objects.create(name="常客", phone="+8613800139010", home_store=store_a)
    talked = Member.objects.create(name="新动态", phone="+8613800139011", home_store=store_a)
    Member.objects.create(name="新会员", phone="+8613800139012", home_store=store_a)
    for member in (*dormant, buyer, talked):
        _old(Member, member.pk, created_at=LONG_AGO, updated_at=LONG_AGO)
    Order.objects.create(channel="pos", external_id="P1", member=buyer, store=store_a, total_amount=Decimal("10"),
                         placed_at=timezone.now() - datetime.timedelta(days=20))
    MemberEvent.objects.create(member=talked, kind="updated", data={})

    first = _run_and_wait()
    assert first.detail["counts"]["members_erased"] == 2  # bounded: one batch per run
    second = _run_and_wait()
    assert second.detail["counts"]["members_erased"] == 1

    erased = set(Member.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))
    assert erased == {m.pk for m in dormant}
    assert not Member.objects.filter(pk__in=erased).exclude(name="", phone="").exists()
    assert AuditLog.objects.filter(action="member.erase", object_id__in=[str(p) for p in erased]).count() == 3
    assert _run_and_wait().detail["counts"]["members_erased"] == 0
