"""Functions and triggers that keep the member bitmap index exact, then a first full build.

The SQL comes from members/segments/index.py; a later change to it needs its own migration
(the functions are CREATE OR REPLACE, the triggers are dropped and created again)."""

from django.db import migrations

from members.segments import index


def build(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {index.TABLE} (dimension, key, chunk, bits) {index._FRESH_SQL}")


class Migration(migrations.Migration):
    dependencies = [
        ("member_segments", "0001_initial"),
        ("members", "0002_member_centre"),
    ]

    operations = [
        migrations.RunSQL(index.TRIGGERS_SQL, index.DROP_SQL),
        migrations.RunPython(build, migrations.RunPython.noop),
    ]
