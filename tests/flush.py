"""The flush that empties the test database after a transactional test (TRUNCATE of every table)
may empty the audit log: its trigger refuses TRUNCATE unless the transaction sets
siyu.allow_audit_truncate, and only this harness does, inside the flush's own transaction. Every
other connection, in the tests as in production, is refused."""

from __future__ import annotations

ALLOW = "SELECT set_config('siyu.allow_audit_truncate', 'on', true)"


def allow_audit_truncate_in_flushes() -> None:
    from django.db.backends.postgresql.operations import DatabaseOperations

    if getattr(DatabaseOperations.execute_sql_flush, "allows_audit_truncate", False):
        return
    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        # Django runs the list in one transaction (atomic), so the setting ends with it.
        return original(self, [ALLOW, *sql_list] if sql_list else sql_list)

    execute_sql_flush.allows_audit_truncate = True
    DatabaseOperations.execute_sql_flush = execute_sql_flush
