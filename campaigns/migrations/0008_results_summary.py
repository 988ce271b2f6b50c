from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0007_group_messages")]

    operations = []
