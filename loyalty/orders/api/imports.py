"""Order imports over the API: POST a file (a job), GET the job for its progress, counts and first
errors, POST /commit/ to import a finished dry run from the file it checked."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import parsers, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from loyalty.orders import import_jobs, imports
from loyalty.orders.models import OrderImportJob, OrderImportMode
from scrm.api import fields as strict
from scrm.api.schema import CONFLICT, ERRORS
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet
from scrm.files import encoding_choices

UPLOAD_SLACK = 64 * 1024


class OrderImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or .xlsx, one row per order line (see the dashboard's template). "
                                           "What the file is comes from its content: anything else is a 400.")
    mode = strict.ChoiceField(choices=OrderImportMode.choices, default=OrderImportMode.DRY_RUN)
    encoding = strict.ChoiceField(choices=[key for key, _label in encoding_choices()], required=False,
                                  allow_blank=True, help_text="The CSV's encoding; empty: detected.")


class OrderImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="Row as the spreadsheet numbers it (header = 1).")
    column = serializers.CharField(allow_blank=True, help_text="The column's header as written in the file.")
    code = serializers.CharField(allow_blank=True, help_text="What is wrong, for a program (empty when the "
                                                             "order service worded it).")
    params = serializers.DictField(help_text="The values the message names.")
    message = serializers.CharField(help_text="The error in the language of the request.")


class OrderImportJobSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    created_by = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()
    message = serializers.CharField(source="summary", read_only=True,
                                    help_text="The outcome in the language of the request.")
    commit_of = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                                   help_text="The dry run this import commits.")

    class Meta:
        model = OrderImportJob
        fields = ["id", "status", "mode", "format", "encoding", "original_name", "size_bytes", "store", "created_by",
                  "rows", "orders", "orders_checked", "created_count", "existing_count", "invalid_orders",
                  "error_count", "errors", "message", "message_code", "attempts", "commit_of", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields

    def get_created_by(self, job) -> str:
        return job.created_by.get_username() if job.created_by else job.created_by_label

    @extend_schema_field(OrderImportErrorSerializer(many=True))
    def get_errors(self, job) -> list[dict]:
        return OrderImportErrorSerializer(job.rendered_errors(), many=True).data


class OrderImportJobListSerializer(OrderImportJobSerializer):
    """A job in the list: its counts, not its errors (GET the job for those)."""

    class Meta(OrderImportJobSerializer.Meta):
        fields = [name for name in OrderImportJobSerializer.Meta.fields if name != "errors"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="Recent order imports of the caller's scope",
                       responses=OrderImportJobListSerializer(many=True)),
    retrieve=extend_schema(summary="An order import: status, progress, counts and the first errors",
                           responses={200: OrderImportJobSerializer, 404: ERRORS[404]}),
)
class OrderImportJobViewSet(ScopedCreateListRetrieveViewSet):
    """Order file imports. A store-bound key imports into its store only; a brand-wide key anywhere."""

    queryset = OrderImportJob.objects.select_related("created_by", "store")
    serializer_class = OrderImportJobSerializer
    scope_resource = "orders"
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    def get_serializer_class(self):
        return OrderImportJobListSerializer if self.action == "list" else OrderImportJobSerializer

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return queryset.defer("errors") if self.action == "list" else queryset

    def _answer(self, job, *, created: bool = True) -> Response:
        job = OrderImportJob.objects.select_related("created_by", "store").get(pk=job.pk)
        if not created:
            code = status.HTTP_200_OK
        else:
            code = status.HTTP_202_ACCEPTED if job.is_running else status.HTTP_201_CREATED
        return Response(OrderImportJobSerializer(job, context=self.get_serializer_context()).data, status=code)

    @extend_schema(
        summary="Upload a file of orders to import",
        description=(
            "multipart/form-data with `file` (CSV or .xlsx, one row per order line, the order number on each "
            "of its rows) and `mode`: `dry_run` checks every row and writes nothing, `all` records the orders only "
            "if every one is valid, `valid` records the valid orders and reports the others (or POST "
            "/orders/imports/{id}/commit/ after a dry run). A small file is done when the answer arrives (201); "
            "a larger one runs in a worker (202, status pending or running): GET the job until it is done. "
            "A file that is no CSV or workbook, a CSV whose encoding is unclear (give `encoding`), a file over "
            f"{imports.MAX_BYTES >> 20} MB or one missing a required column is a 400 and is not kept."
        ),
        request=OrderImportCreateSerializer,
        responses={201: OrderImportJobSerializer, 202: OrderImportJobSerializer, **ERRORS},
    )
    def create(self, request, *args, **kwargs):
        payload = OrderImportCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = import_jobs.create_job(actor=request.user, upload=payload.validated_data["file"],
                                     mode=payload.validated_data["mode"],
                                     encoding=payload.validated_data.get("encoding") or None)
        import_jobs.start_job(job=job)
        return self._answer(job)

    @extend_schema(
        summary="Import the orders of a finished dry run, from the file it checked",
        description="`all` when every order was valid, `valid` otherwise. Once per dry run: a repeated request "
        "answers the import already made (200). 201 when done in the request, 202 while a worker runs it; 409 "
        "for a job that is not a finished dry run with valid orders.",
        request=None,
        responses={200: OrderImportJobSerializer, 201: OrderImportJobSerializer, 202: OrderImportJobSerializer,
                   **ERRORS, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def commit(self, request, pk=None):
        job, created = import_jobs.commit_dry_run(actor=request.user, job=self.get_object())
        if created:
            import_jobs.start_job(job=job)
        return self._answer(job, created=created)
