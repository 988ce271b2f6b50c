import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_wecom_mass_tasks"),
        ("scrm", "0006_auditlog_no_truncate"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="attachments",
            field=models.JSONField(
                blank=True, default=list, verbose_name="attachments",
                help_text="Images, links and mini-program cards sent after the text, in order (campaigns.attachments).",
            ),
        ),
        migrations.AddField(
            model_name="outboxmessage",
            name="attachments",
            field=models.JSONField(blank=True, default=list, verbose_name="attachments"),
        ),
        migrations.CreateModel(
            name="CampaignImage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file", models.FileField(max_length=200, upload_to="campaigns/images/", verbose_name="file")),
                ("name", models.CharField(max_length=120, verbose_name="file name")),
                ("content_type", models.CharField(max_length=20, verbose_name="type")),
                ("size", models.PositiveIntegerField(verbose_name="bytes")),
                ("width", models.PositiveIntegerField(default=0, verbose_name="width")),
                ("height", models.PositiveIntegerField(default=0, verbose_name="height")),
                ("sha256", models.CharField(max_length=64, verbose_name="SHA-256")),
                ("wecom_media_id", models.CharField(blank=True, default="", max_length=128,
                                                    verbose_name="WeCom media id")),
                ("wecom_uploaded_at", models.DateTimeField(blank=True, null=True, verbose_name="uploaded to WeCom")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created at")),
                ("created_by", models.ForeignKey(
                    blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="uploaded by")),
                ("store", models.ForeignKey(
                    blank=True, db_index=False, help_text="Empty: brand-wide (usable by every campaign).", null=True,
                    on_delete=django.db.models.deletion.PROTECT, related_name="+", to="scrm.store",
                    verbose_name="store")),
            ],
            options={
                "verbose_name": "campaign image",
                "verbose_name_plural": "campaign images",
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["store", "-id"], name="campaign_image_store")],
            },
        ),
    ]
