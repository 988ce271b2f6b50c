"""Keys keep working within what their binding can use: a key bound to one store loses the writes
of brand-wide settings (refused since store-bound keys cannot change them), and a key that holds
every read scope the old default 'read' granted loses privacy:read (data-subject export), which no
default grants any more; it is given by name."""

from django.db import migrations

BRAND_SETTING_WRITES = [
    "attributes:write",
    "commission_rules:write",
    "rewards:write",
    "stores:write",
    "tags:write",
    "tiers:write",
]

# Every read scope registered when 'read' also meant privacy:read.
OLD_DEFAULT_READ = [
    "api_keys:read", "attributes:read", "commission_rules:read", "commissions:read", "exports:read",
    "imports:read", "insights:read", "members:read", "merges:read", "orders:read", "point_adjustments:read",
    "points:read", "privacy:read", "referrals:read", "rewards:read", "segments:read", "staff:read",
    "stores:read", "tags:read", "tier_floors:read", "tiers:read",
]

SQL = """
UPDATE scrm_apikey SET scopes = ARRAY(
    SELECT s FROM unnest(scopes) AS s WHERE s <> ALL(%(refused)s::varchar[]) ORDER BY s)
WHERE store_id IS NOT NULL AND scopes && %(refused)s::varchar[];
UPDATE scrm_apikey SET scopes = array_remove(scopes, 'privacy:read')
WHERE scopes @> %(old_read)s::varchar[];
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SQL, {"refused": BRAND_SETTING_WRITES, "old_read": OLD_DEFAULT_READ})


class Migration(migrations.Migration):
    dependencies = [("scrm", "0004_audit_log_verbose_names")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
