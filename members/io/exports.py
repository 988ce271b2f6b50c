"""Exporting members to CSV or XLSX: scoped to what the actor may see, masked for store roles,
recorded in the audit log, streamed (a million rows never sit in memory), and safe to open in a
spreadsheet (a cell starting with = + - @ tab or CR gets a leading ').

The columns carry the import's headers, so an exported file can be edited and imported again."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.aggregates import StringAgg
from django.db.models import CharField, F, OuterRef, Subquery, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.io import queries
from members.io.columns import header_for
from members.models import AttributeDefinition, Channel, Identity, MemberTag
from members.phones import mask_phone
from scrm.models import Role
from scrm.scoping import access_for
from scrm.services import audit

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 64 * 1024
XLSX_SHEET_ROWS = 1_048_575  # Excel's sheet limit, less the header

FIELD_COLUMNS = {
    "id": gettext_lazy("Member id"),
    "name": gettext_lazy("Name"),
    "phone": gettext_lazy("Phone"),
    "gender": gettext_lazy("Gender"),
    "birthday": gettext_lazy("Birthday"),
    "home_store": gettext_lazy("Home store (code)"),
    "owner": gettext_lazy("Owner (username)"),
    "source": gettext_lazy("Source"),
    "stage": gettext_lazy("5A stage"),
    "created_at": gettext_lazy("Joined at"),
    "tags": gettext_lazy("Tags (group:tag;...)"),
}
IDENTITY_COLUMNS = [c for c in Channel.values if c != Channel.PHONE]
DEFAULT_COLUMNS = ["id", "name", "phone", "gender", "birthday", "home_store", "owner", "stage", "tags"]
_ORM_FIELDS = {"id": "id", "name": "name", "phone": "phone", "gender": "gender", "birthday": "birthday",
               "home_store": "home_store__code", "owner": "owner__username", "source": "source", "stage": "stage",
               "created_at": "created_at"}


class ExportRefused(Exception):
    def __init__(self, message: str, *, status: int = 400, code: str = "invalid", details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or {"non_field_errors": [message]}


@dataclass
class Export:
    filename: str
    content_type: str
    rows: int
    columns: list[str]
    masked: bool
    chunks: Iterator[bytes]


def neutralise(value: str) -> str:
    """A cell a spreadsheet would run as a formula, made plain text."""
    return "'" + value if value.startswith(FORMULA_START) else value


def is_masked(actor) -> bool:
    """Only those who see every store (operators, brand-wide keys) export full phones and sensitive
    attributes; store managers and store-bound keys get them masked or left out."""
    return not access_for(actor).all_stores


def check_actor(actor) -> None:
    if getattr(actor, "api_key", None) is None and getattr(actor, "role", None) not in (
        Role.OPERATOR, Role.STORE_MANAGER
    ):
        raise ExportRefused(_("Your role cannot import or export members."), status=403, code="permission_denied")
    access = access_for(actor)
    if not access.all_stores and access.store_id is None:
        raise ExportRefused(_("Your account is not bound to a store."), status=403, code="permission_denied")


def available_columns(actor) -> list[tuple[str, str]]:
    """(key, label) of every column `actor` may export: sensitive attributes only for full exports."""
    masked = is_masked(actor)
    found = [(key, str(label)) for key, label in FIELD_COLUMNS.items()]
    found += [(channel, str(Channel(channel).label)) for channel in IDENTITY_COLUMNS]
    for definition in AttributeDefinition.objects.filter(is_active=True):
        if masked and (definition.sensitive or definition.requires_guardian):
            continue
        found.append((f"attr:{definition.code}", definition.label))
    return found


def _tags_subquery():
    return Subquery(
        MemberTag.objects.filter(member=OuterRef("pk"))
        .order_by()
        .values("member")
        .annotate(text=StringAgg(Concat(F("tag__group__name"), Value(":"), F("tag__name"), output_field=CharField()),
                                 delimiter=";", order_by=("tag__group__sort_order", "tag__group__name", "tag__name")))
        .values("text")
    )


def _identity_subquery(channel: str):
    from django.db.models import Case, When

    return Subquery(
        Identity.objects.filter(member=OuterRef("pk"), channel=channel)
        .order_by()
        .values("member")
        .annotate(text=StringAgg(
            Case(When(namespace="", then=F("external_id")),
                 default=Concat(F("namespace"), Value("/"), F("external_id")), output_field=CharField()),
            delimiter=";", order_by=("namespace", "external_id")))
        .values("text")
    )


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_cell(item) for item in value)
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def filters_for_audit(params) -> dict:
    getlist = getattr(params, "getlist", None)
    found = {}
    for key in params:
        if key in ("columns", "format", "csrfmiddlewaretoken", "segment"):
            continue
        values = getlist(key) if getlist else [params[key]]
        values = [v for v in values if v not in ("", None)]
        if values:
            found[key] = values if len(values) > 1 else values[0]
    return found


def export_members(*, actor, params, columns: list[str] | None = None, file_format: str = "csv",
                   segment_id: int | None = None, ip=None) -> Export:
    """The members `actor` may see, filtered by MemberFilterSet `params`, as a stream of CSV or
    XLSX bytes. Records who exported what in the audit log before the first byte is sent."""
    check_actor(actor)
    if file_format not in ("csv", "xlsx"):
        raise ExportRefused(_("Unknown format “%(format)s”; csv or xlsx.") % {"format": file_format},
                            details={"format": [_("Choose csv or xlsx.")]})
    columns = list(dict.fromkeys(columns or DEFAULT_COLUMNS))
    allowed = dict(available_columns(actor))
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise ExportRefused(_("These columns cannot be exported: %(columns)s.") % {"columns": ", ".join(unknown)},
                            details={"columns": [_("Not available to you: %(columns)s.")
                                                 % {"columns": ", ".join(unknown)}]})
    try:
        queryset = queries.export_queryset(actor=actor, params=params, segment_id=segment_id)
    except queries.ExportFilterError as exc:
        raise ExportRefused(str(exc), details=exc.errors) from None
    masked = is_masked(actor)
    fields, annotations, attributes = [], {}, []
    for column in columns:
        if column in _ORM_FIELDS:
            fields.append(_ORM_FIELDS[column])
        elif column == "tags":
            annotations["x_tags"] = _tags_subquery()
            fields.append("x_tags")
        elif column in IDENTITY_COLUMNS:
            annotations[f"x_{column}"] = _identity_subquery(column)
            fields.append(f"x_{column}")
        else:
            attributes.append(column.split(":", 1)[1])
            fields.append(None)  # filled from the attributes document
    if attributes:
        fields.append("attributes")
    rows = queryset.count()
    limit = min(XLSX_SHEET_ROWS, int(getattr(settings, "MEMBER_EXPORT_XLSX_MAX_ROWS", XLSX_SHEET_ROWS)))
    if file_format == "xlsx" and rows > limit:
        raise ExportRefused(_("%(rows)s members are more than an .xlsx sheet holds (%(limit)s); export CSV instead.")
                            % {"rows": f"{rows:,}", "limit": f"{limit:,}"}, details={"format": [_("Use CSV.")]})
    access = access_for(actor)
    audit.record(
        actor=actor, action="members.export", store_id=access.store_id, ip=ip,
        detail={"format": file_format, "columns": columns, "filters": filters_for_audit(params), "rows": rows,
                "masked": masked, "segment": segment_id},
    )
    values = queryset.annotate(**annotations).order_by("id").values_list(*[f for f in fields if f])
    records = _records(values.iterator(chunk_size=2000), columns, fields, attributes, masked)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    stem = f"segment-{segment_id}" if segment_id is not None else "members"
    if file_format == "xlsx":
        return Export(filename=f"{stem}-{stamp}.xlsx", rows=rows, columns=columns, masked=masked,
                      content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      chunks=_xlsx_chunks([header_for(c) for c in columns], records))
    return Export(filename=f"{stem}-{stamp}.csv", content_type="text/csv; charset=utf-8", rows=rows,
                  columns=columns, masked=masked, chunks=_csv_chunks([header_for(c) for c in columns], records))


def _records(values, columns, fields, attributes, masked) -> Iterator[list[str]]:
    """Each member as a row of neutralised text cells, in `columns` order."""
    phone_at = columns.index("phone") if "phone" in columns else None
    has_attributes = bool(attributes)
    for record in values:
        record = list(record)
        document = record.pop() if has_attributes else None
        cells, position, attribute = [], 0, 0
        for field in fields[: len(columns)]:
            if field is None:
                value = (document or {}).get(attributes[attribute])
                attribute += 1
            else:
                value = record[position]
                position += 1
            cells.append(_cell(value))
        if masked and phone_at is not None:
            cells[phone_at] = mask_phone(cells[phone_at])
        yield [neutralise(cell) if cell else cell for cell in cells]


def _csv_chunks(columns, records) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")  # Excel opens UTF-8 with a BOM as UTF-8, Chinese included
    writer.writerow(columns)
    for record in records:
        writer.writerow(record)
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _xlsx_chunks(columns, records) -> Iterator[bytes]:
    """openpyxl's write-only workbook streams rows to a temporary file; the file is then streamed."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Members"))
    sheet.append(columns)
    for record in records:
        sheet.append(record)
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
