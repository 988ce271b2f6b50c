from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("communities", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="event",
            name="points_price",
            field=models.PositiveIntegerField(
                db_default=0, default=0, help_text="Points a member spends when a seat becomes theirs; 0: free.",
                verbose_name="price in points"),
        ),
        migrations.AddField(
            model_name="signup",
            name="points_paid",
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False,
                                              help_text="Spent when the seat became the member's.",
                                              verbose_name="points paid"),
        ),
        migrations.AddField(
            model_name="signup",
            name="points_refunded_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="points refunded at"),
        ),
    ]
