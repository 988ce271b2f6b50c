"""Bitmaps built from 64-bit words spelled in hex (an order of magnitude faster than the first,
bit-by-bit text builder): re-create the functions; triggers keep pointing at them."""

from django.db import migrations

from members.segments import index


class Migration(migrations.Migration):
    dependencies = [("member_segments", "0002_bitmap_triggers")]

    operations = [migrations.RunSQL(index.FUNCTIONS_SQL + index.TRIGGER_FUNCTIONS_SQL, migrations.RunSQL.noop)]
