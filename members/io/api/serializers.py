from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from members.io.messages import rendered
from members.io.models import ImportJob, ImportMode
from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer
from scrm.files import encoding_choices

MESSAGE_MAX = 1000  # a message holds previews of cells only; a job stored before that is cut here


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or .xlsx with a header row; see the template. What the file is comes "
                                           "from its content: anything else is refused (400).")
    mode = strict.ChoiceField(choices=ImportMode.choices, default=ImportMode.DRY_RUN)
    encoding = strict.ChoiceField(
        choices=[key for key, _label in encoding_choices()], required=False, allow_blank=True,
        help_text="The CSV's encoding. Empty: detected; a file whose encoding is unclear, or not the one given, is "
                  "refused (400, code encoding_unclear) naming what it looks like.")


class ImportErrorSerializer(serializers.Serializer):
    row = strict.IntegerField(help_text="Row number as the spreadsheet shows it (the header is row 1).")
    column = strict.CharField(allow_blank=True, help_text="The column's header as written in the file.")
    column_number = strict.IntegerField(allow_null=True)
    value = strict.CharField(allow_null=True, allow_blank=True)
    code = strict.CharField(allow_blank=True, help_text="What is wrong, for a program: e.g. phone, duplicate, "
                                                             "tag_unknown (empty for an error stored before codes).")
    params = serializers.DictField(help_text="The values the message names (each cell as a bounded preview).")
    message = strict.CharField(help_text="The error in the language of the request.")

    def to_representation(self, instance):
        data = super().to_representation(rendered([instance])[0])
        if len(data["message"]) > MESSAGE_MAX:
            data["message"] = data["message"][:MESSAGE_MAX] + "…"
        return data


class ImportJobSerializer(StrictModelSerializer):
    store = strict.SlugRelatedField(slug_field="code", read_only=True)
    created_by = serializers.SerializerMethodField()
    errors = ImportErrorSerializer(many=True, read_only=True)
    report_url = serializers.SerializerMethodField()
    message = strict.CharField(source="summary", read_only=True,
                               help_text="The outcome in the language of the request.")
    commit_of = strict.PrimaryKeyRelatedField(read_only=True, help_text="The dry run this import commits.")

    class Meta:
        model = ImportJob
        fields = ["id", "status", "mode", "format", "original_name", "size_bytes", "store", "created_by",
                  "rows_total", "rows_valid", "rows_invalid", "created_count", "updated_count", "tags_added",
                  "identities_added", "error_count", "errors", "report_url", "message", "message_code", "encoding",
                  "attempts", "commit_of", "timings", "created_at", "started_at", "finished_at"]
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
