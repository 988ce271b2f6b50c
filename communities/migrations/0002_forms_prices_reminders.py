import django.db.models.deletion
import django.utils.timezone
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
        migrations.CreateModel(
            name="EventReminder",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("day_before", "A day before"), ("two_hours", "Two hours before")],
                                          max_length=10, verbose_name="kind")),
                ("text", models.CharField(max_length=500, verbose_name="text")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="reminded at")),
                ("event", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="+", to="communities.event", verbose_name="event")),
                ("member", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                             to="members.member", verbose_name="member")),
                ("signup", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                             related_name="+", to="communities.signup", verbose_name="sign-up")),
                ("store", models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                            to="scrm.store", verbose_name="store")),
            ],
            options={
                "verbose_name": "event reminder",
                "verbose_name_plural": "event reminders",
                "ordering": ["event_id", "id"],
                "indexes": [models.Index(fields=["event", "kind"], name="reminder_event_kind")],
                "constraints": [models.UniqueConstraint(fields=("signup", "kind"),
                                                        name="reminder_once_per_signup_kind")],
            },
        ),
    ]
