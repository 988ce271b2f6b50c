"""Dashboard screens: upload an import and follow it, download its error report and the template,
export the member list. Operators and store managers only; store staff neither import nor export."""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from members import searches
from members.io import columns, exports, first_load, queries, reports, services
from members.io.forms import ExportForm, ImportForm
from members.io.models import ImportJob
from members.segments.forms import ROOT, AudienceForm
from members.segments.models import Segment
from scrm.dashboard import ScopedDetailView, ScopedListView, scoped_view
from scrm.models import Role
from scrm.scoping import get_visible_or_404

IO_ROLES = (Role.OPERATOR, Role.STORE_MANAGER)  # services.can_import / exports.can_export for sessions
UPLOAD_SLACK = 64 * 1024  # multipart overhead around the file itself


def _client_ip(request):
    return request.META.get("REMOTE_ADDR") or None


class ImportListView(ScopedListView):
    """Upload a file and see the recent imports of the user's scope."""

    allowed_roles = IO_ROLES
    queryset = ImportJob.objects.select_related("created_by", "store")
    template_name = "member_io/import.html"
    paginate_by = 20

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ImportForm())
        context["template_columns"] = columns.template_columns()
        context["max_bytes"] = services.max_bytes()
        # An operator facing an empty pool is told how a brand's millions are loaded on day one.
        context["first_load_offered"] = (first_load.may_run(self.request.user)
                                         and first_load.pool_problem() is None)
        return context

    def post(self, request, *args, **kwargs):
        # Refuse an oversized body before Django reads it into a temporary file.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > services.max_bytes() + UPLOAD_SLACK:
            form = ImportForm()
            form.add_error(None, services.too_large_message(length))
            return self._form_error(form, status=413)
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._form_error(form)
        try:
            job = services.create_import(actor=request.user, upload=form.cleaned_data["file"],
                                         mode=form.cleaned_data["mode"],
                                         encoding=form.cleaned_data["encoding"] or None)
        except services.ImportRefused as exc:
            if exc.status == 403:
                raise PermissionDenied from None
            field = next((name for name in ("mode", "encoding") if name in exc.details), "file")
            form.add_error(field, exc.message)
            return self._form_error(form, status=exc.status)
        services.start_import(job=job)
        return redirect("member-import-job", pk=job.pk)

    def _form_error(self, form, status=400):
        self.object_list = self.get_queryset()
        response = self.render_to_response(self.get_context_data(form=form))
        response.status_code = status
        return response


class ImportJobView(ScopedDetailView):
    """One import: its status, counts and first errors; polls itself (htmx) while it runs."""

    allowed_roles = IO_ROLES
    queryset = ImportJob.objects.select_related("created_by", "store")
    template_name = "member_io/import_job.html"
    context_object_name = "job"

    def get_template_names(self):
        if getattr(self.request, "htmx", False) and not self.request.htmx.boosted:
            return ["member_io/_import_job.html"]
        return super().get_template_names()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["commit_job"] = queries.commit_of(self.object)
        return context


@scoped_view(pk=ImportJob)
@require_POST
def commit_import(request, pk):
    """"Import these rows" on a dry run's page: the same stored file, the same options, once."""
    if not services.can_import(request.user):
        raise PermissionDenied
    dry_run = get_visible_or_404(ImportJob, request.user, pk=pk)
    job, created = services.commit_dry_run(actor=request.user, job=dry_run)
    if created:
        services.start_import(job=job)
    else:
        messages.info(request, _("This dry run was already imported; here is that import."))
    return redirect("member-import-job", pk=job.pk)


@scoped_view(pk=ImportJob)
def import_report(request, pk):
    """The whole error report of a job as CSV."""
    if not services.can_import(request.user):
        raise PermissionDenied
    job = get_visible_or_404(ImportJob, request.user, pk=pk)
    if not job.report:
        raise Http404
    response = StreamingHttpResponse(reports.worded(job.report.open("rb")), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@scoped_view
def import_template(request, fmt):
    """An empty file with the import's columns; the .xlsx has a second sheet explaining each."""
    if not services.can_import(request.user):
        raise PermissionDenied
    described = columns.template_columns()
    headers = [header for header, _description in described]
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")
        csv.writer(buffer, lineterminator="\r\n").writerow(headers)
        response = HttpResponse(buffer.getvalue().encode(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="members-template.csv"'
        return response
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = _("Members")
        sheet.append(headers)
        guide = workbook.create_sheet(_("Columns"))
        guide.append([_("Column"), _("What to write")])
        for header, description in described:
            guide.append([header, description])
        guide.append([])
        guide.append([_("Other identities"), str(columns.DESCRIPTIONS["identity"])])
        guide.append([_("Chinese headers"), "姓名, 手机号, 性别, 生日, 门店, 导购, 标签"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(
            buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="members-template.xlsx"'
        return response
    raise Http404


@scoped_view
@require_http_methods(["GET", "POST"])
def export_members(request):
    """GET: the export form, carrying the member list's filters; POST: the file."""
    if not exports.can_export(request.user):
        raise PermissionDenied
    filters = request.GET.copy() if request.method == "GET" else request.POST.copy()
    for key in ("csrfmiddlewaretoken", "format", "columns", "page"):
        filters.pop(key, None)
    builder = _builder_fields(filters)
    segment_id = filters.pop("segment", [None])[-1] or None
    segment = None
    if segment_id is not None:
        segment = get_visible_or_404(Segment, request.user, pk=segment_id)
    definition, audience_errors = _builder_audience(request, builder)
    if definition is not None:
        segment = None  # the list shows the builder's audience (a segment being edited, or a new one)
    form = ExportForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid() and audience_errors:
        messages.error(request, _("This audience is incomplete: fix the conditions marked in the builder. "
                                  "No members are listed or exported until then."))
    elif request.method == "POST" and form.is_valid():
        try:
            export = exports.export_members(
                actor=request.user, params=searches.resolved(request, filters), columns=form.cleaned_data["columns"],
                file_format=form.cleaned_data["format"], segment_id=segment and segment.pk,
                definition=definition, ip=_client_ip(request),
            )
        except exports.ExportRefused as exc:
            if exc.status == 403:
                raise PermissionDenied from None
            messages.error(request, exc.message)
        else:
            response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
            response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
            response["X-Export-Rows"] = str(export.rows)
            return response
    try:
        if audience_errors:
            raise queries.ExportFilterError({_("Audience builder"): audience_errors})
        count = queries.export_queryset(actor=request.user, params=searches.resolved(request, filters),
                                        segment_id=segment and segment.pk,
                                        definition=definition).count()
        filter_errors = {}
    except queries.ExportFilterError as exc:
        count, filter_errors = None, exc.errors
    hidden = [(name, value) for name in filters for value in filters.getlist(name) if value]
    hidden += [(name, value) for name in builder for value in builder.getlist(name)]
    list_query = filters.copy()
    list_query.update(builder)
    if segment_id is not None:
        hidden.append(("segment", str(segment_id)))
        list_query["segment"] = str(segment_id)
    return render(request, "member_io/export.html", {
        "form": form, "hidden_filters": hidden, "count": count, "filter_errors": filter_errors,
        "member_list_query": list_query.urlencode(), "masked": exports.is_masked(request.user), "segment": segment,
    })


def _builder_fields(filters) -> QueryDict:
    """Take the audience builder's fields (r, r.0.filter, ...) out of `filters`."""
    builder = QueryDict(mutable=True)
    for key in [k for k in filters if k == ROOT or k.startswith(ROOT + ".")]:
        builder.setlist(key, filters.getlist(key))
        del filters[key]
    return builder


def _builder_audience(request, builder) -> tuple[dict | None, list[str]]:
    """The builder's definition as the member list reads it, or the errors of an incomplete one. No
    condition at all: no audience (the list is not narrowed by the builder either)."""
    if not builder:
        return None, []
    audience = AudienceForm(builder, user=request.user)
    if audience.incomplete:
        return None, audience.all_errors() or [_("Some conditions are not valid:")]
    return (audience.definition() if audience.active else None), []
