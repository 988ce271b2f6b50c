"""Files in and out, for every app that imports or exports (members, orders...).

Reading an uploaded file row by row without holding it in memory: CSV in UTF-8 (with or without
BOM) or GB18030 (what Chinese Excel saves), comma- or tab-separated; XLSX through openpyxl's
read-only (streaming) mode. Each row comes out as a list of strings, numbered as the spreadsheet
numbers it (the header is row 1).

Writing: `neutralise` makes a cell that a spreadsheet would run as a formula plain text, for every
exported or echoed value.

Bounds: a cell longer than CELL_MAX characters (Excel's own limit) comes out as a `TooLong` (an
empty string that knows the length it had), so its text is never kept, and an importer makes its row
an error that gives the length (`too_long_message`). A CSV field over CSV_FIELD_MAX stops the file
(the csv module holds a field whole while it reads it). XLSX shared strings are read by our own
streaming parser, which keeps at most CELL_MAX + 1 characters of any string: a sheet with one huge
shared string costs CELL_MAX characters, not the string (openpyxl would hold the whole table,
each string whole). Inline strings of a sheet are read by openpyxl a row at a time, so a row holds
at most what the file holds. Whatever an error message, a stored error or a report echoes of a
cell goes through `preview` (PREVIEW_MAX characters and "…")."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from xml.parsers.expat import ExpatError

from django.utils.translation import gettext as _

SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (Excel 97-2003)

CELL_MAX = 32_767  # Excel's limit for a cell; no column of any import accepts as much
CSV_FIELD_MAX = 4 * 1024 * 1024  # the csv module holds a field whole: longer ones stop the file
PREVIEW_MAX = 80  # characters of a cell an error message or a report echoes
csv.field_size_limit(CSV_FIELD_MAX)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """A cell a spreadsheet would run as a formula, made plain text."""
    return "'" + value if value.startswith(FORMULA_START) else value


class TooLong(str):
    """A cell over CELL_MAX characters, read without keeping its text: its text is empty, while
    len() (and so truth) answers the length it had, so length checks refuse it like the long cell."""

    length: int

    def __new__(cls, length: int) -> TooLong:
        cell = super().__new__(cls, "")
        cell.length = length
        return cell

    def __len__(self) -> int:
        return self.length


def bounded(value: str) -> str:
    """A cell as a reader hands it out: a TooLong when it is longer than CELL_MAX."""
    return TooLong(len(value)) if len(value) > CELL_MAX else value


def preview(value):
    """A value as an error message or report echoes it: at most PREVIEW_MAX characters and "…"."""
    if value is None:
        return None
    value = str(value)
    return value if len(value) <= PREVIEW_MAX else value[:PREVIEW_MAX] + "…"


def too_long_message(length: int, maximum: int = CELL_MAX) -> str:
    """The error of a cell refused for its length; it gives the length, never the content."""
    return _("This cell holds %(length)s characters; at most %(max)s are accepted.") % {
        "length": f"{length:,}", "max": f"{maximum:,}"}


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
            for index, cell in enumerate(row):
                if len(cell) > CELL_MAX:
                    row[index] = TooLong(len(cell))
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
        return bounded(value)
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
    try:
        workbook = _BoundedExcelReader(source, read_only=True, data_only=False)
        workbook.read()
        workbook = workbook.wb
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, ExpatError) as exc:
        raise FileError(_("The file is not a readable .xlsx workbook (%(error)s).") % {"error": exc}) from None
    try:
        sheet = workbook.worksheets[0]
        # Read-only sheets yield an empty row for every row missing from the XML, so numbers hold.
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in row]
    finally:
        workbook.close()


def shared_strings(source) -> list[str]:
    """The shared strings table of an XLSX, streamed through expat: each string's text (its runs, not
    its phonetic guide), a TooLong for one over CELL_MAX, so no string costs more than CELL_MAX + 1
    characters however long it is in the file."""
    from xml.parsers import expat

    strings: list[str] = []
    state = {"depth_phonetic": 0, "in_t": False, "parts": [], "kept": 0, "length": 0}

    def start(name, _attrs):
        local = name.rsplit(" ", 1)[-1]
        if local == "si":
            state.update(parts=[], kept=0, length=0)
        elif local == "rPh":
            state["depth_phonetic"] += 1
        elif local == "t" and not state["depth_phonetic"]:
            state["in_t"] = True

    def end(name):
        local = name.rsplit(" ", 1)[-1]
        if local == "si":
            text = "".join(state["parts"]).replace("x005F_", "")
            strings.append(TooLong(state["length"]) if state["length"] > CELL_MAX else text)
        elif local == "rPh":
            state["depth_phonetic"] -= 1
        elif local == "t":
            state["in_t"] = False

    def text(data):
        if not state["in_t"]:
            return
        state["length"] += len(data)
        room = CELL_MAX + 1 - state["kept"]
        if room > 0:
            state["parts"].append(data[:room])
            state["kept"] += min(room, len(data))

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    parser.buffer_text = False
    while chunk := source.read(1 << 16):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return strings


def _bounded_excel_reader():
    from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader

    class BoundedExcelReader(ExcelReader):
        def read_strings(self):
            found = self.package.find(SHARED_STRINGS)
            if found is not None:
                with self.archive.open(found.PartName[1:]) as src:
                    self.shared_strings = shared_strings(src)

    return BoundedExcelReader


def _BoundedExcelReader(source, **options):  # noqa: N802 - stands for the class, built on first use
    return _bounded_excel_reader()(source, **options)
