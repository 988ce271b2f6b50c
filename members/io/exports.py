"""Exporting members to CSV or XLSX: scoped to what the actor may see, masked for store roles,
recorded in the audit log, streamed (a million rows never sit in memory), and safe to open in a
spreadsheet (a cell starting with = + - @ tab or CR gets a leading ').

The columns carry the import's headers, so an exported file can be edited and imported again:
identities with a namespace get a column per namespace (`tmall:<shop>`), consent is written as
granted / withdrawn in the consent columns."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.aggregates import StringAgg
from django.db.models import Case, CharField, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.io import queries
from members.io.columns import CONSENT_PREFIX, NO_NAMESPACE, header_for
from members.models import (
    AttributeDefinition,
    Channel,
    Consent,
    ConsentChannel,
    ConsentPurpose,
    Identity,
    MemberTag,
)
from members.phones import mask_phone
from members.services import disclosure
from scrm import privacy as kernel_privacy
from scrm.errors import ServiceError
from scrm.files import FORMULA_START, neutralise
from scrm.models import Role
from scrm.scoping import access_for
from scrm.services import audit

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
# Every consent the import reads: marketing for all channels and per channel, profiling for all.
CONSENT_COLUMNS = [
    f"{CONSENT_PREFIX}:{ConsentPurpose.MARKETING}",
    *(f"{CONSENT_PREFIX}:{ConsentPurpose.MARKETING}:{c}" for c in ConsentChannel.values if c != ConsentChannel.ALL),
    f"{CONSENT_PREFIX}:{ConsentPurpose.PROFILING}",
]
CONSENT_ANSWERS = {True: "granted", False: "withdrawn"}  # what the import reads back (columns.CONSENT_VALUES)
DEFAULT_COLUMNS = ["id", "name", "phone", "gender", "birthday", "home_store", "owner", "stage", "tags",
                   *CONSENT_COLUMNS]
_ORM_FIELDS = {"id": "id", "name": "name", "phone": "phone", "gender": "gender", "birthday": "birthday",
               "home_store": "home_store__code", "owner": "owner__username", "source": "source", "stage": "stage",
               "created_at": "created_at"}


class ExportRefused(ServiceError):
    """An export we do not make: a 400 with `details` naming what is wrong (the message itself when
    nothing more precise is given), or the status given (403 for a role that may not export)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "validation_error",
                 details: dict | None = None) -> None:
        self.status = status
        if status == 400:
            details = details or {"non_field_errors": [message]}
        super().__init__(message, details=details or {}, code=code)


@dataclass
class Export:
    filename: str
    content_type: str
    rows: int
    columns: list[str]
    masked: bool
    chunks: Iterator[bytes]


def is_masked(actor) -> bool:
    """Exports follow the one disclosure rule (members.services.disclosure): only operators and
    brand-wide keys holding phones:read export full phones and sensitive attributes; store managers,
    store-bound keys and other keys get them masked or left out."""
    return not disclosure.sees_full_identifiers(actor)


def can_export(actor) -> bool:
    """Operators, store managers and API keys (holding the exports scope) export; store staff do not."""
    return getattr(actor, "api_key", None) is not None or getattr(actor, "role", None) in (
        Role.OPERATOR, Role.STORE_MANAGER
    )


def check_actor(actor) -> None:
    if not can_export(actor):
        raise ExportRefused(_("Your role cannot import or export members."), status=403, code="permission_denied")
    access = access_for(actor)
    if not access.all_stores and access.store_id is None:
        raise ExportRefused(_("Your account is not bound to a store."), status=403, code="permission_denied")


def _consent_label(key: str) -> str:
    _prefix, purpose, *channel = key.split(":")
    label = _("Consent: %(purpose)s") % {"purpose": ConsentPurpose(purpose).label}
    return f"{label} ({ConsentChannel(channel[0] if channel else ConsentChannel.ALL).label})"


def available_columns(actor) -> list[tuple[str, str]]:
    """(key, label) of every column `actor` may export: sensitive attributes only for full exports.
    An identity channel's key exports one column per namespace its ids have (see export_members)."""
    masked = is_masked(actor)
    found = [(key, str(label)) for key, label in FIELD_COLUMNS.items()]
    found += [(channel, str(Channel(channel).label)) for channel in IDENTITY_COLUMNS]
    found += [(key, _consent_label(key)) for key in CONSENT_COLUMNS]
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


def _identity_subquery(channel: str, namespace: str):
    # Ids of one channel and namespace; a member rarely has several (merged profiles), joined by ';'.
    return Subquery(
        Identity.objects.filter(member=OuterRef("pk"), channel=channel, namespace=namespace)
        .order_by()
        .values("member")
        .annotate(text=StringAgg("external_id", delimiter=";", order_by=("external_id",)))
        .values("text")
    )


def _consent_subquery():
    # One probe of the consent index per member for every consent column: "marketing:sms=1;...".
    return Subquery(
        Consent.objects.filter(member=OuterRef("pk"), purpose__in=[ConsentPurpose.MARKETING, ConsentPurpose.PROFILING])
        .order_by()
        .values("member")
        .annotate(text=StringAgg(
            Concat(F("purpose"), Value(":"), F("channel"), Value("="),
                   Case(When(granted=True, then=Value("1")), default=Value("0")), output_field=CharField()),
            delimiter=";"))
        .values("text")
    )


def _consent_key(column: str) -> str:
    """`consent:marketing:sms` -> "marketing:sms", `consent:profiling` -> "profiling:all"."""
    _prefix, purpose, *channel = column.split(":")
    return f"{purpose}:{channel[0] if channel else ConsentChannel.ALL}"


def _identity_column(column: str) -> tuple[str, str] | None:
    """(channel, namespace) of an identity column key (`pos`, `tmall:shop1`), else None."""
    channel, sep, namespace = column.partition(":")
    if channel not in IDENTITY_COLUMNS or (sep and (not namespace.strip() or channel in NO_NAMESPACE)):
        return None
    if namespace != namespace.strip() or len(namespace) > 64:
        return None
    return channel, namespace


def identity_namespaces(queryset, channels) -> dict[str, list[str]]:
    """channel -> the namespaces its ids have among the members of `queryset` ("" for none), in one
    query; a channel no member has an id on keeps its bare column."""
    found: dict[str, list[str]] = {channel: [] for channel in channels}
    if channels:
        pairs = (Identity.objects.filter(member__in=queryset.order_by().values("pk"), channel__in=channels)
                 .order_by("channel", "namespace").values_list("channel", "namespace").distinct())
        for channel, namespace in pairs:
            found[channel].append(namespace)
    return {channel: namespaces or [""] for channel, namespaces in found.items()}


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
                   segment_id: int | None = None, definition: dict | None = None, ip=None) -> Export:
    """The members `actor` may see, filtered by MemberFilterSet `params`, as a stream of CSV or
    XLSX bytes. Records who exported what in the audit log before the first byte is sent."""
    check_actor(actor)
    if file_format not in ("csv", "xlsx"):
        raise ExportRefused(_("Unknown format “%(format)s”; csv or xlsx.") % {"format": file_format},
                            details={"format": [_("Choose csv or xlsx.")]})
    columns = list(dict.fromkeys(columns or DEFAULT_COLUMNS))
    allowed = dict(available_columns(actor))
    unknown = [c for c in columns if c not in allowed and _identity_column(c) is None]
    if unknown:
        raise ExportRefused(_("These columns cannot be exported: %(columns)s.") % {"columns": ", ".join(unknown)},
                            details={"columns": [_("Not available to you: %(columns)s.")
                                                 % {"columns": ", ".join(unknown)}]})
    try:
        queryset = queries.export_queryset(actor=actor, params=params, segment_id=segment_id, definition=definition)
    except queries.ExportFilterError as exc:
        raise ExportRefused(str(exc), details=exc.errors) from None
    masked = is_masked(actor)
    # A channel's ids go to one column per namespace (`tmall:shop1`), the header the import reads.
    namespaces = identity_namespaces(queryset, [c for c in columns if c in IDENTITY_COLUMNS])
    columns = [expanded for column in columns
               for expanded in ([f"{column}:{ns}" if ns else column for ns in namespaces[column]]
                                if column in namespaces else [column])]
    fields, annotations, plan = [], {}, []
    for column in columns:
        identity = _identity_column(column)
        if column in _ORM_FIELDS:
            plan.append(("value", len(fields)))
            fields.append(_ORM_FIELDS[column])
        elif column == "tags":
            annotations["x_tags"] = _tags_subquery()
            plan.append(("value", len(fields)))
            fields.append("x_tags")
        elif identity is not None:
            name = f"x_identity_{len(annotations)}"
            annotations[name] = _identity_subquery(*identity)
            plan.append(("value", len(fields)))
            fields.append(name)
        elif column in CONSENT_COLUMNS:
            plan.append(("consent", _consent_key(column)))
        else:
            plan.append(("attr", column.split(":", 1)[1]))
    attributes_at = consent_at = None
    if any(kind == "attr" for kind, _arg in plan):
        attributes_at = len(fields)
        fields.append("attributes")
    if any(kind == "consent" for kind, _arg in plan):
        annotations["x_consent"] = _consent_subquery()
        consent_at = len(fields)
        fields.append("x_consent")
    rows = queryset.count()
    limit = min(XLSX_SHEET_ROWS, int(getattr(settings, "MEMBER_EXPORT_XLSX_MAX_ROWS", XLSX_SHEET_ROWS)))
    if file_format == "xlsx" and rows > limit:
        raise ExportRefused(_("%(rows)s members are more than an .xlsx sheet holds (%(limit)s); export CSV instead.")
                            % {"rows": f"{rows:,}", "limit": f"{limit:,}"}, details={"format": [_("Use CSV.")]})
    access = access_for(actor)
    filters = filters_for_audit(params)
    detail = {"format": file_format, "columns": columns, "filters": kernel_privacy.redact_filters(filters),
              "rows": rows, "masked": masked, "segment": segment_id}
    if definition is not None:
        detail["audience"] = definition  # an unsaved audience from the builder
    if kernel_privacy.has_personal_filters(filters):  # who was found, by id; never the phone or name searched for
        detail["member_ids"] = kernel_privacy.found_ids(queryset)
    audit.record(actor=actor, action="members.export", store_id=access.store_id, ip=ip, detail=detail)
    values = queryset.annotate(**annotations).order_by("id").values_list(*fields)
    records = _records(values.iterator(chunk_size=2000), columns, plan, attributes_at, consent_at, masked)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    stem = f"segment-{segment_id}" if segment_id is not None else "members"
    if file_format == "xlsx":
        return Export(filename=f"{stem}-{stamp}.xlsx", rows=rows, columns=columns, masked=masked,
                      content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      chunks=_xlsx_chunks([header_for(c) for c in columns], records))
    return Export(filename=f"{stem}-{stamp}.csv", content_type="text/csv; charset=utf-8", rows=rows,
                  columns=columns, masked=masked, chunks=_csv_chunks([header_for(c) for c in columns], records))


def _records(values, columns, plan, attributes_at, consent_at, masked) -> Iterator[list[str]]:
    """Each member as a row of text cells, in `columns` order (made formula-safe by the writer of
    each format)."""
    phone_at = columns.index("phone") if "phone" in columns else None
    for record in values:
        document = (record[attributes_at] or {}) if attributes_at is not None else {}
        consents = {}
        if consent_at is not None and record[consent_at]:
            consents = dict(item.split("=") for item in record[consent_at].split(";"))
        cells = []
        for kind, arg in plan:
            if kind == "value":
                value = record[arg]
            elif kind == "attr":
                value = document.get(arg)
            else:
                answer = consents.get(arg)
                value = None if answer is None else CONSENT_ANSWERS[answer == "1"]
            cells.append(_cell(value))
        if masked and phone_at is not None:
            cells[phone_at] = mask_phone(cells[phone_at])
        yield cells


def _csv_chunks(columns, records) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")  # Excel opens UTF-8 with a BOM as UTF-8, Chinese included
    writer.writerow(columns)
    for record in records:
        writer.writerow([neutralise(cell) if cell else cell for cell in record])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _xlsx_chunks(columns, records) -> Iterator[bytes]:
    """openpyxl's write-only workbook streams rows to a temporary file; the file is then streamed.
    Every cell is a text cell, so nothing is evaluated and no apostrophe is needed: a cell that
    starts like a formula (= + - @) is marked "quote prefix", Excel's own way of keeping typed
    text as text even when it is edited, and shows as written (a phone "+8613800138000" too)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Members"))
    sheet.append(columns)

    def text(value):
        if not value or not value.startswith(FORMULA_START):
            return value
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # openpyxl would write a value starting with = as a formula
        cell.quotePrefix = True
        return cell

    for record in records:
        sheet.append([text(value) for value in record])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
