"""Imports and exports over the API. Imports: POST a file, then GET the job for its status and
errors. Exports: GET /exports/members/?format=csv (or xlsx) with the member list's filters."""

from __future__ import annotations

from django.http import Http404, StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, parsers, renderers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from members.filters import MemberFilterSet
from members.io import exports, reports, services
from members.io.api.serializers import ImportCreateSerializer, ImportJobListSerializer, ImportJobSerializer
from members.io.models import ImportJob
from scrm.api.renderers import CsvRenderer, XlsxRenderer
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet, ScopedViewSet
from scrm.permissions import scopes_of

UPLOAD_SLACK = 64 * 1024


def _ip(request):
    return request.META.get("REMOTE_ADDR") or None


@extend_schema_view(
    list=extend_schema(summary="Recent imports of the caller's scope: status and counts; GET one for its errors",
                       responses=ImportJobListSerializer(many=True)),
    retrieve=extend_schema(summary="An import: status, counts and the first errors (row, column, message)"),
)
class ImportJobViewSet(ScopedCreateListRetrieveViewSet):
    """Member imports. A store-bound key imports into its store only; a brand-wide key anywhere."""

    queryset = ImportJob.objects.select_related("created_by", "store")
    serializer_class = ImportJobSerializer
    scope_resource = "imports"
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    def get_serializer_class(self):
        # The list answers every job's counts, never their errors: a page stays small however
        # many errors its jobs had.
        return ImportJobListSerializer if self.action == "list" else ImportJobSerializer

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return queryset.defer("errors") if self.action == "list" else queryset  # not even read for a list

    @extend_schema(
        summary="Upload a file of members to import",
        description=(
            "multipart/form-data with `file` (CSV in UTF-8 or GB18030, or .xlsx) and `mode`: `dry_run` checks "
            "every row and writes nothing, `strict` writes only if every row is valid, `valid_rows` writes the "
            "valid rows and reports the others (or POST /imports/{id}/commit/ after a dry run). Small files are "
            "done when the response arrives (201, status done or failed); larger ones, and workbooks that unpack "
            "to more than a few megabytes, run in a worker (202, status pending): GET the job until it is done. "
            "What the file is comes from its content: an image, a PDF, a ZIP that is no workbook, a web page "
            "or a binary file is refused (400, saying what it looks like), as is a CSV whose encoding is unclear "
            "(400, code encoding_unclear: give `encoding`). "
            "Columns: name, phone, gender, birthday, home_store, owner, source, stage, tags (group:tag;...), "
            "identities (wecom, wechat_unionid, pos, miniprogram:<appid>, tmall:<shop>...), attr:<code>. "
            "A file over the size limit, or a workbook that unpacks past its limit, is refused with 413."
        ),
        request=ImportCreateSerializer,
        responses={201: ImportJobSerializer, 202: ImportJobSerializer},
    )
    def create(self, request, *args, **kwargs):
        if int(request.META.get("CONTENT_LENGTH") or 0) > services.max_bytes() + UPLOAD_SLACK:
            raise services.ImportRefused(services.too_large_message(int(request.META["CONTENT_LENGTH"])),
                                         status=413, code="payload_too_large")
        payload = ImportCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = services.create_import(actor=request.user, upload=payload.validated_data["file"],
                                     mode=payload.validated_data["mode"],
                                     encoding=payload.validated_data.get("encoding") or None)
        services.start_import(job=job)
        job = ImportJob.objects.select_related("created_by", "store").get(pk=job.pk)
        code = status.HTTP_202_ACCEPTED if job.is_running else status.HTTP_201_CREATED
        return Response(self.get_serializer(job).data, status=code)

    @extend_schema(
        summary="Import the rows of a finished dry run, from the file it checked",
        description=(
            "The same stored file and options; `strict` when every row was valid, `valid_rows` otherwise. Once per "
            "dry run: a repeated request answers the import already made (200) instead of importing again. "
            "201 when done in the request, 202 while a worker runs it; 409 for a job that is not a finished dry run "
            "with valid rows."
        ),
        request=None,
        responses={200: ImportJobSerializer, 201: ImportJobSerializer, 202: ImportJobSerializer},
    )
    @action(detail=True, methods=["post"])  # no body: the dry run is the whole request
    def commit(self, request, pk=None):
        job, created = services.commit_dry_run(actor=request.user, job=self.get_object())
        if created:
            services.start_import(job=job)
        job = ImportJob.objects.select_related("created_by", "store").get(pk=job.pk)
        if not created:
            code = status.HTTP_200_OK
        else:
            code = status.HTTP_202_ACCEPTED if job.is_running else status.HTTP_201_CREATED
        return Response(self.get_serializer(job).data, status=code)

    @extend_schema(summary="The import's full error report as CSV",
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, CsvRenderer])
    def report(self, request, pk=None):
        job = self.get_object()
        if not job.report:
            raise Http404
        response = StreamingHttpResponse(reports.worded(job.report.open("rb")),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response


_FILTER_PARAMETERS = [
    OpenApiParameter(name, str, description=str(f.label or name))
    for name, f in MemberFilterSet.base_filters.items()
]


class ExportViewSet(ScopedViewSet):
    """Member exports, scoped to the caller: a store-bound key exports its store with phones masked
    and sensitive attributes left out. Every export is recorded in the audit log."""

    # The rows come from members.io.exports, handed the caller (self.actor), which scopes by it.
    scope_resource = "exports"
    renderer_classes = [renderers.JSONRenderer, CsvRenderer, XlsxRenderer]

    def handle_exception(self, exc):
        # Errors keep the API's JSON shape even when the client asked for a file.
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(summary="The columns the caller may export", responses={200: OpenApiTypes.OBJECT})
    def list(self, request):
        exports.check_actor(self.actor)
        return Response({
            "formats": ["csv", "xlsx"],
            "columns": [{"key": key, "label": label} for key, label in exports.available_columns(self.actor)],
            "default_columns": exports.DEFAULT_COLUMNS,
            "masked": exports.is_masked(self.actor),
            "csv": request.build_absolute_uri("members/?format=csv"),
            "xlsx": request.build_absolute_uri("members/?format=xlsx"),
        })

    @extend_schema(
        summary="Export members as CSV or XLSX",
        description=(
            "The live members the caller may see, narrowed by the member list's filters (the same query "
            "parameters as GET /members/). `columns` is a comma-separated list of keys from GET /exports/ "
            "(default: id, name, phone, gender, birthday, home_store, owner, stage, tags and the consent columns); "
            "an identity channel such as `tmall` writes one column per namespace (`tmall:<shop>`), or ask for "
            "one namespace as `tmall:<shop>`. CSV is streamed "
            "(UTF-8 with BOM); cells a spreadsheet would run as formulas start with '. Headers are the "
            "import's column names, so an export can be edited and imported again. Choose the file with "
            "`format` (or an Accept header of text/csv or the xlsx media type); CSV by default. "
            "`segment=<id>` exports a saved segment's members (needs segments:read too)."
        ),
        parameters=[OpenApiParameter("format", str, enum=["csv", "xlsx"], description="The file format."),
                    OpenApiParameter("columns", str, description="Comma-separated column keys."),
                    OpenApiParameter("segment", int, description="A saved segment's id."),
                    *_FILTER_PARAMETERS],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
                   (200, XlsxRenderer.media_type): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    @action(detail=False, methods=["get"])
    def members(self, request):
        params = request.query_params.copy()
        segment = params.pop("segment", [None])[-1]
        try:
            segment_id = int(segment) if segment else None
        except ValueError:
            raise exceptions.ValidationError({"segment": [_("A segment id is a number.")]}) from None
        if segment_id is not None and "segments:read" not in scopes_of(request.user):
            raise exceptions.PermissionDenied(
                _("This request needs the scope '%(scope)s'.") % {"scope": "segments:read"})
        return export_response(request, params=params, segment_id=segment_id)


def export_response(request, *, params, segment_id: int | None = None) -> StreamingHttpResponse:
    """The export as a streamed file: `params` are the member list's filters plus `format` and
    `columns`; refusals are raised in the API's error shape."""
    fmt = request.accepted_renderer.format if request.accepted_renderer.format in ("csv", "xlsx") else "csv"
    params = params.copy()
    params.pop("format", None)
    raw_columns = params.pop("columns", [])
    columns = [c.strip() for value in raw_columns for c in value.split(",") if c.strip()] or None
    export = exports.export_members(actor=request.user, params=params, columns=columns, file_format=fmt,
                                    segment_id=segment_id, ip=_ip(request))
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Export-Rows"] = str(export.rows)
    return response
