"""The audit log refuses TRUNCATE as it refuses UPDATE and DELETE: named, or reached by CASCADE from a
table it refers to. Only the test harness's flush sets siyu.allow_audit_truncate, so transactional
tests still end with an empty database."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from scrm.models import AuditLog
from scrm.services import audit

# The entry written in the test's own transaction leaves deferred foreign-key checks pending, and
# PostgreSQL refuses any TRUNCATE then; checked now, the TRUNCATE reaches the trigger.
IMMEDIATE = "SET CONSTRAINTS ALL IMMEDIATE"


@pytest.mark.parametrize(
    "statement",
    ["TRUNCATE scrm_auditlog", "TRUNCATE scrm_auditlog RESTART IDENTITY CASCADE", "TRUNCATE scrm_store CASCADE"],
)
def test_truncate_of_the_audit_log_is_refused(alice, statement):
    entry = audit.record(actor=alice, action="member.view", detail={"n": 1}, store_id=alice.store_id)
    refused = pytest.raises(DatabaseError, match="append-only: TRUNCATE refused")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(IMMEDIATE)
        cursor.execute(statement)
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_the_setting_other_than_on_allows_nothing(alice):
    entry = audit.record(actor=alice, action="member.view", detail={"n": 2})
    with connection.cursor() as cursor:
        cursor.execute(IMMEDIATE)
        for value in ("off", "1", ""):
            with pytest.raises(DatabaseError, match="TRUNCATE refused"), transaction.atomic():
                cursor.execute("SELECT set_config('siyu.allow_audit_truncate', %s, true)", [value])
                cursor.execute("TRUNCATE scrm_auditlog")
    assert AuditLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_that_writes_the_audit_log_is_flushed_after_it(stores):
    # Its teardown flush TRUNCATEs scrm_auditlog: with the trigger and no harness setting it would
    # fail this test at teardown, and leave the row for the next one.
    assert not AuditLog.objects.exists()
    audit.record(actor=None, action="member.view", detail={"n": 3})
    assert AuditLog.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_next_transactional_test_starts_with_an_empty_audit_log(stores):
    assert not AuditLog.objects.exists()
