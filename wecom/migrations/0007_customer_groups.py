from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("wecom", "0006_event_status_index")]

    operations = []
