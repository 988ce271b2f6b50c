"""Every table of the cockpit as CSV (UTF-8 with a BOM, for Excel) or XLSX: one line per row, the
value, the previous period's value and the change of each column, and when each was counted."""

from __future__ import annotations

import csv
import io
import tempfile
from decimal import Decimal

from django.utils.translation import gettext as _

from insights.cockpit.base import Figure, Row, SectionData, Table
from scrm.errors import InvalidInput
from scrm.files import neutralise

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def tables_of(sections: list[SectionData]) -> dict[str, Table]:
    """Every table of the page by key, the section's headline figures as a table of their own."""
    found: dict[str, Table] = {}
    for section in sections:
        if section.figures:
            found[section.key] = Table(section.key, section.title, [_("Value")],
                                       [_row(f) for f in section.figures], label_header=_("Figure"))
        for table in section.tables:
            found[table.key] = table
    return found


def _row(figure: Figure) -> Row:
    return Row(figure.key, figure.label, [figure])


def find_table(sections: list[SectionData], key) -> Table:
    tables = tables_of(sections)
    if key not in tables:
        raise InvalidInput(details={"table": [_("Unknown table; known tables: %(keys)s.") % {
            "keys": ", ".join(tables)}]})
    return tables[key]


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    return value


def header(table: Table) -> list[str]:
    out = [table.label_header or _("Row")]
    for column in table.columns:
        out += [str(column), _("%(column)s, period before") % {"column": column},
                _("%(column)s, change") % {"column": column}]
    return out + [_("Counted at")]


def records(table: Table):
    for row in table.rows:
        cells = [row.label]
        counted = ""
        for figure in row.cells:
            cells += [_plain(figure.value), _plain(figure.previous), _plain(figure.change)]
            if figure.as_of is not None:
                counted = figure.as_of.isoformat(timespec="seconds")
        yield cells + [counted or _("live")]


def csv_bytes(table: Table) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(str(c)) for c in header(table)])
    for record in records(table):
        writer.writerow([neutralise(str(c)) if isinstance(c, str) else str(c) for c in record])
    return buffer.getvalue().encode()


def xlsx_bytes(table: Table) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(table.title)[:31])

    def cell(value):
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, str):
            text = WriteOnlyCell(sheet, value=value)
            text.data_type = "s"  # a label is text, never a formula
            return text
        return value

    sheet.append([cell(str(c)) for c in header(table)])
    for record in records(table):
        sheet.append([cell(v) for v in record])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        return handle.read()


def export(table: Table, file_format: str) -> bytes:
    if file_format not in FORMATS:
        raise InvalidInput(details={"format": [_("The format is csv or xlsx.")]})
    return csv_bytes(table) if file_format == "csv" else xlsx_bytes(table)
