# The deliveries table keeps no database foreign keys: their per-row checks were most of a fan-out's
# time. The table is partitioned, so the constraints are dropped by their names on the parent (which
# drops them from every partition) rather than by Django's introspection.

import django.db.models.deletion
from django.db import migrations, models

DROP_SQL = """
ALTER TABLE campaigns_delivery DROP CONSTRAINT IF EXISTS campaigns_delivery_campaign_id_fkey;
ALTER TABLE campaigns_delivery DROP CONSTRAINT IF EXISTS campaigns_delivery_member_id_fkey;
"""

RESTORE_SQL = """
ALTER TABLE campaigns_delivery ADD CONSTRAINT campaigns_delivery_campaign_id_fkey
    FOREIGN KEY (campaign_id) REFERENCES campaigns_campaign (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE campaigns_delivery ADD CONSTRAINT campaigns_delivery_member_id_fkey
    FOREIGN KEY (member_id) REFERENCES members_member (id) DEFERRABLE INITIALLY DEFERRED;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0001_initial'),
        ('members', '0007_tag_source_wecom'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(DROP_SQL, RESTORE_SQL)],
            state_operations=[
                migrations.AlterField(
                    model_name='delivery',
                    name='campaign',
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='campaigns.campaign', verbose_name='campaign'),
                ),
                migrations.AlterField(
                    model_name='delivery',
                    name='member',
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='members.member', verbose_name='member'),
                ),
            ],
        ),
    ]
