from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from members.io.models import ImportJob, ImportMode
from scrm.files import preview

MESSAGE_MAX = 1000  # a message holds previews of cells only; a job stored before that is cut here


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8 or GB18030) or .xlsx with a header row; see the template.")
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.DRY_RUN)


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Row number as the spreadsheet shows it (the header is row 1).")
    column = serializers.CharField(allow_blank=True, help_text="The column's header as written in the file.")
    column_number = serializers.IntegerField(allow_null=True)
    value = serializers.CharField(allow_null=True, allow_blank=True)
    message = serializers.CharField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["value"] = preview(data["value"])
        data["column"] = preview(data["column"])
        if len(data["message"]) > MESSAGE_MAX:
            data["message"] = data["message"][:MESSAGE_MAX] + "…"
        return data


class ImportJobSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    created_by = serializers.SerializerMethodField()
    errors = ImportErrorSerializer(many=True, read_only=True)
    report_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = ["id", "status", "mode", "format", "original_name", "size_bytes", "store", "created_by",
                  "rows_total", "rows_valid", "rows_invalid", "created_count", "updated_count", "tags_added",
                  "identities_added", "error_count", "errors", "report_url", "message", "timings", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields

    def get_created_by(self, job) -> str:
        return job.created_by.get_username() if job.created_by else job.created_by_label

    def get_report_url(self, job) -> str | None:
        request = self.context.get("request")
        if not job.report or request is None:
            return None
        namespace = request.resolver_match.namespace if request.resolver_match else "api"
        return request.build_absolute_uri(reverse(f"{namespace}:import-report", args=[job.pk]))


class ImportJobListSerializer(ImportJobSerializer):
    """A job in the list: its counts and report link, not its errors (GET the job for those)."""

    class Meta(ImportJobSerializer.Meta):
        fields = [name for name in ImportJobSerializer.Meta.fields if name != "errors"]
        read_only_fields = fields
