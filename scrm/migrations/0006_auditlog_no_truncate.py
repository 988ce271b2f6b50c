"""The audit log refuses TRUNCATE too (0003 refuses UPDATE and DELETE, row by row; TRUNCATE fires no
row trigger), whether the table is named or reached by CASCADE from a table it refers to. The one
way through is a transaction that sets siyu.allow_audit_truncate to 'on', which only the test
harness does, for the flush that empties the test database between transactional tests."""

from django.db import migrations

CREATE = """
CREATE FUNCTION scrm_auditlog_no_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('siyu.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER scrm_auditlog_no_truncate
    BEFORE TRUNCATE ON scrm_auditlog
    FOR EACH STATEMENT EXECUTE FUNCTION scrm_auditlog_no_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS scrm_auditlog_no_truncate ON scrm_auditlog;
DROP FUNCTION IF EXISTS scrm_auditlog_no_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("scrm", "0005_api_key_scopes_least_privilege")]

    operations = [migrations.RunSQL(CREATE, DROP)]
