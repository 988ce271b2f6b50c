"""The Celery path: a job queued on commit runs in a real worker, once, even when delivered twice."""

from __future__ import annotations

import time

from django.db import transaction

from members.io import services, tasks
from members.io.models import ImportJob, ImportStatus
from members.models import Member
from tests.helpers import wait_for
from tests.members.io.conftest import upload


def test_a_large_file_runs_in_the_worker_once(celery_worker, alice, store_a, settings):
    settings.MEMBER_IMPORT_INLINE_MAX_BYTES = 0  # every file goes to the worker
    content = "name,phone,wecom\n" + "".join(f"m{i},138{i:08d},wm{i}\n" for i in range(500))
    with transaction.atomic():
        job = services.create_import(actor=alice, upload=upload(content), mode="strict")
        services.start_import(job=job)
        assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PENDING  # queued on commit, not before
    tasks.run_import.delay(job.pk)  # a second delivery of the same job
    assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.DONE), \
        ImportJob.objects.get(pk=job.pk).message
    job.refresh_from_db()
    assert (job.created_count, job.attempts) == (500, 1)
    time.sleep(0.5)  # let the duplicate delivery run too
    assert Member.objects.count() == 500
    assert ImportJob.objects.get(pk=job.pk).attempts == 1


def test_resume_picks_up_a_job_whose_message_was_lost(celery_worker, alice, store_a):
    job = services.create_import(actor=alice, upload=upload("name,phone\na,13800138000\n"), mode="strict")
    ImportJob.objects.filter(pk=job.pk).update(created_at=job.created_at.replace(year=2020))
    tasks.resume_imports.delay()
    assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.DONE)
    assert Member.objects.filter(phone="+8613800138000").exists()
