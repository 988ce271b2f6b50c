"""The audit log is append-only in the database: a trigger refuses UPDATE and DELETE on its rows,
whatever the client (the admin, a shell, raw SQL). The one exception is scrubbing a member's
entries for an erasure (scrm.audit.scrub_member): inside that transaction the setting
siyu.audit_scrub_member names the member, and only that member's entries may have their `detail` and
`ip` rewritten; no other column, no other row, and no deletion."""

from django.db import migrations

CREATE = """
CREATE FUNCTION scrm_auditlog_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    scrubbed text := current_setting('siyu.audit_scrub_member', true);
BEGIN
    IF TG_OP = 'UPDATE'
       AND scrubbed IS NOT NULL AND scrubbed <> ''
       AND OLD.object_type = 'members.member' AND OLD.object_id = scrubbed
       AND NEW.id = OLD.id AND NEW.created_at = OLD.created_at AND NEW.action = OLD.action
       AND NEW.object_type = OLD.object_type AND NEW.object_id = OLD.object_id
       AND NEW.user_id IS NOT DISTINCT FROM OLD.user_id
       AND NEW.api_key_id IS NOT DISTINCT FROM OLD.api_key_id
       AND NEW.store_id IS NOT DISTINCT FROM OLD.store_id
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER scrm_auditlog_append_only
    BEFORE UPDATE OR DELETE ON scrm_auditlog
    FOR EACH ROW EXECUTE FUNCTION scrm_auditlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS scrm_auditlog_append_only ON scrm_auditlog;
DROP FUNCTION IF EXISTS scrm_auditlog_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("scrm", "0002_idempotency_keys")]

    operations = [migrations.RunSQL(CREATE, DROP)]
