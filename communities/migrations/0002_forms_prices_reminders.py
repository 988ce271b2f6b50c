from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("communities", "0001_initial")]

    operations = []
