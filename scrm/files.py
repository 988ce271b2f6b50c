"""Files in and out, for every app that imports or exports (members, orders...).

Reading an uploaded file row by row without holding it in memory: CSV in UTF-8 (with or without
BOM) or GB18030 (what Chinese Excel saves), comma- or tab-separated; XLSX through openpyxl's
read-only (streaming) mode. Each row comes out as a list of strings, numbered as the spreadsheet
numbers it (the header is row 1).

Writing: `neutralise` makes a cell that a spreadsheet would run as a formula plain text, for every
exported or echoed value."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time

from django.utils.translation import gettext as _

SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (Excel 97-2003)

csv.field_size_limit(1024 * 1024)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """A cell a spreadsheet would run as a formula, made plain text."""
    return "'" + value if value.startswith(FORMULA_START) else value


class FileError(ValueError):
    """The file as a whole cannot be read; `row` is where reading stopped, if known."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


def detect_format(head: bytes, name: str = "") -> str:
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if head.startswith(OLE_MAGIC) or name.lower().endswith(".xls"):
        raise FileError(_("Old Excel files (.xls) cannot be read; save the sheet as .xlsx or CSV."))
    return "csv"


def detect_encoding(source) -> str:
    """utf-8-sig for UTF-8 with or without BOM, utf-16 with its BOM, otherwise GB18030 (what Chinese
    Excel writes as "CSV"). The whole stream is checked, not a sample: a file whose first rows are
    ASCII and whose Chinese starts later must not be taken for UTF-8. Leaves `source` at its start."""
    head = source.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        decoder = codecs.getincrementaldecoder("utf-8")()
        encoding = "utf-8-sig"
        try:
            chunk = head
            while chunk:
                decoder.decode(chunk)
                chunk = source.read(1 << 20)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "gb18030"
    source.seek(0)
    return encoding


class _Raw(io.RawIOBase):
    """Any object with read(n) as a raw stream, so io.BufferedReader/TextIOWrapper can wrap it."""

    def __init__(self, source) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def csv_rows(source, *, encoding: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of a CSV stream, the header included as row 1."""
    encoding = encoding or detect_encoding(source)
    buffered = io.BufferedReader(_Raw(source), buffer_size=1024 * 1024)
    head = buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")
    first_line = head.split(b"\n", 1)[0]
    delimiter = "\t" if first_line.count(b"\t") > first_line.count(b",") else ","
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    number = 0
    try:
        for number, row in enumerate(reader, start=1):  # noqa: B007 - the last number is reported on error
            yield number, row
    except UnicodeDecodeError:
        raise FileError(
            _("The file is neither UTF-8 nor GB18030 text (unreadable characters after row %(row)d); "
              "save it again as “CSV UTF-8”.") % {"row": number},
            row=number + 1,
        ) from None
    except csv.Error as exc:
        raise FileError(_("Row %(row)d cannot be read as CSV: %(error)s") % {"row": number + 1, "error": exc},
                        row=number + 1) from None


def cell_text(value) -> str:
    """An XLSX cell as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e17 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def xlsx_rows(source) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of the first sheet, streamed. Formula cells come out as their formula
    ("=SUM(A1:A3)"), so they are refused like any formula in a CSV."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(source, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileError(_("The file is not a readable .xlsx workbook (%(error)s).") % {"error": exc}) from None
    try:
        sheet = workbook.worksheets[0]
        # Read-only sheets yield an empty row for every row missing from the XML, so numbers hold.
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in row]
    finally:
        workbook.close()
