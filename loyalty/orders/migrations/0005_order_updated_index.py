# Orders by updated_at, for the nightly tier run's "changed since" read. Built concurrently: the
# orders table is the largest there is and keeps taking writes meanwhile.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("orders", "0004_orderimportjob"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(fields=["updated_at"], name="order_updated"),
        ),
    ]
