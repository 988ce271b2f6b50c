"""Recurring campaigns (a series and its runs, one per occurrence) and test sends to staff."""

import django.contrib.postgres.fields
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_attachments")]

    operations = [
        migrations.CreateModel(
            name="StaffTestSend",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("recipient_label", models.CharField(max_length=150, verbose_name="sent to (name)")),
                (
                    "sent_by_label",
                    models.CharField(blank=True, default="", max_length=100, verbose_name="sent by (API key)"),
                ),
                ("channel", models.CharField(max_length=24, verbose_name="channel")),
                ("address", models.CharField(blank=True, default="", max_length=254, verbose_name="address")),
                ("text", models.TextField(verbose_name="text")),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("recorded", "Recorded (this channel is not sent to staff)"),
                            ("failed", "Failed"),
                            ("refused", "Not sent: no address"),
                        ],
                        max_length=10,
                        verbose_name="outcome",
                    ),
                ),
                (
                    "provider_message_id",
                    models.CharField(blank=True, default="", max_length=128, verbose_name="provider message id"),
                ),
                ("error", models.CharField(blank=True, default="", max_length=500, verbose_name="error")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="sent at")),
            ],
            options={
                "verbose_name": "test send",
                "verbose_name_plural": "test sends",
                "ordering": ["-id"],
            },
        ),
        migrations.AddField(
            model_name="campaign",
            name="next_occurrence_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="next run"),
        ),
        migrations.AddField(
            model_name="campaign",
            name="occurrence_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="occurrence"),
        ),
        migrations.AddField(
            model_name="campaign",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="runs",
                to="campaigns.campaign",
                verbose_name="series",
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="repeat",
            field=models.CharField(
                blank=True,
                choices=[("daily", "Every day"), ("weekly", "Every week"), ("monthly", "Every month")],
                default="",
                max_length=8,
                verbose_name="repeats",
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="repeat_count",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="runs at most"),
        ),
        migrations.AddField(
            model_name="campaign",
            name="repeat_day",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="Monthly: 1 to 31; a shorter month sends on its last day.",
                null=True,
                verbose_name="on day of the month",
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="repeat_start",
            field=models.DateField(blank=True, null=True, verbose_name="from"),
        ),
        migrations.AddField(
            model_name="campaign",
            name="repeat_time",
            field=models.TimeField(blank=True, null=True, verbose_name="at time"),
        ),
        migrations.AddField(
            model_name="campaign",
            name="repeat_until",
            field=models.DateField(blank=True, null=True, verbose_name="until"),
        ),
        migrations.AddField(
            model_name="campaign",
            name="repeat_weekdays",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.PositiveSmallIntegerField(),
                blank=True,
                default=list,
                help_text="Weekly: 0 Monday to 6 Sunday.",
                size=None,
                verbose_name="on weekdays",
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="runs_created",
            field=models.PositiveIntegerField(default=0, verbose_name="runs so far"),
        ),
        migrations.AddIndex(
            model_name="campaign",
            index=models.Index(
                condition=models.Q(("next_occurrence_at__isnull", False)),
                fields=["next_occurrence_at"],
                name="campaign_series_due",
            ),
        ),
        migrations.AddConstraint(
            model_name="campaign",
            constraint=models.UniqueConstraint(fields=("parent", "occurrence_at"), name="campaign_run_once"),
        ),
        migrations.AddField(
            model_name="stafftestsend",
            name="campaign",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="test_sends",
                to="campaigns.campaign",
                verbose_name="campaign",
            ),
        ),
        migrations.AddField(
            model_name="stafftestsend",
            name="recipient",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="sent to",
            ),
        ),
        migrations.AddField(
            model_name="stafftestsend",
            name="sample_member",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="members.member",
                verbose_name="sample member",
            ),
        ),
        migrations.AddField(
            model_name="stafftestsend",
            name="sent_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="sent by",
            ),
        ),
        migrations.AddIndex(
            model_name="stafftestsend",
            index=models.Index(fields=["campaign", "-created_at"], name="staff_test_send_campaign"),
        ),
    ]
