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
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from xml.parsers.expat import ExpatError

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (Excel 97-2003)

CELL_MAX = 32_767  # Excel's limit for a cell; no column of any import accepts as much
CSV_FIELD_MAX = 4 * 1024 * 1024  # the csv module holds a field whole: longer ones stop the file
PREVIEW_MAX = 80  # characters of a cell an error message or a report echoes
XLSX_MAX_RATIO = 100  # a workbook that unpacks to more than this many times its size is refused...
XLSX_RATIO_FROM = 8 * 1024 * 1024  # ...once it unpacks past this
csv.field_size_limit(CSV_FIELD_MAX)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# A number in international form ("+8613800138000", "+86 138 0013 8000"): a spreadsheet reads it
# as a number at worst (no reference, no function, no command can be in it), so it needs no
# apostrophe, which a CSV would show as part of the phone.
PLAIN_NUMBER = re.compile(r"\+\d[\d ]{5,24}")


def neutralise(value: str) -> str:
    """A CSV cell that a spreadsheet could run as a formula (= + - @, tab, CR first), made plain
    text with a leading apostrophe; a phone number in international form is left as it is."""
    if not value.startswith(FORMULA_START) or PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


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


def preview(value, limit: int = PREVIEW_MAX):
    """A value as an error message, a report or a log line echoes it: at most `limit` characters and "…"."""
    if value is None:
        return None
    value = str(value)
    return value if len(value) <= limit else value[:limit] + "…"


def too_long_message(length: int, maximum: int = CELL_MAX) -> str:
    """The error of a cell refused for its length; it gives the length, never the content."""
    return _("This cell holds %(length)s characters; at most %(max)s are accepted.") % {
        "length": f"{length:,}", "max": f"{maximum:,}"}


class FileError(ValueError):
    """The file as a whole cannot be read; `row` is where reading stopped, if known."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


def detect_format(head: bytes, name: str = "", source=None) -> str:
    """"xlsx" or "csv" from what the file holds, whatever its name says; anything else (an image, a
    PDF, an archive, a web page, a binary file) is refused with a FileError naming what it looks
    like. `source` (seekable) lets a ZIP be told apart from a workbook."""
    if head.startswith(XLSX_MAGIC):
        if source is not None:
            _check_workbook(source)
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        raise FileError(_("Old Excel files (.xls) cannot be read; save the sheet as .xlsx or CSV."))
    what = looks_like(head)
    if what is not None:
        raise FileError(_("This file looks like %(what)s, not a CSV file or an Excel workbook (.xlsx); "
                          "nothing was kept. Save the sheet as .xlsx or CSV.") % {"what": what})
    return "csv"


# What a file that is not a sheet starts with, and what to call it.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", gettext_lazy("a PNG image")),
    (b"\xff\xd8\xff", gettext_lazy("a JPEG image")),
    (b"GIF87a", gettext_lazy("a GIF image")),
    (b"GIF89a", gettext_lazy("a GIF image")),
    (b"RIFF", gettext_lazy("a media file (RIFF)")),
    (b"%PDF", gettext_lazy("a PDF document")),
    (b"{\\rtf", gettext_lazy("an RTF document")),
    (b"\x1f\x8b", gettext_lazy("a gzip archive")),
    (b"Rar!", gettext_lazy("a RAR archive")),
    (b"7z\xbc\xaf\x27\x1c", gettext_lazy("a 7-Zip archive")),
    (b"PK\x05\x06", gettext_lazy("an empty ZIP archive")),
    (b"\x7fELF", gettext_lazy("a program (ELF)")),
    (b"MZ", gettext_lazy("a Windows program")),
    (b"SQLite format 3", gettext_lazy("an SQLite database")),
)
MARKUP = (
    (("<!doctype html", "<html", "<head", "<body", "<table", "<meta"), gettext_lazy("a web page (HTML)")),
    (("<?xml",), gettext_lazy("an XML file")),
)
TEXT_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def looks_like(head: bytes):
    """What the first bytes of a file say it is when it is not text a CSV reader can take (None
    when it may be a CSV)."""
    for magic, what in SIGNATURES:
        if head.startswith(magic):
            return what
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None  # UTF-16 text holds a NUL byte in every other place
    text = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    start = text[:512].lstrip().lower()
    for prefixes, what in MARKUP:
        if start.startswith(tuple(p.encode() for p in prefixes)):
            return what
    sample = text[:SNIFF_BYTES]
    if b"\x00" in sample:
        return gettext_lazy("a binary file")
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 12, 13))
    if sample and controls * 20 > len(sample):  # more than 5% control bytes: not text
        return gettext_lazy("a binary file")
    return None


def _check_workbook(source) -> None:
    """A ZIP is taken as a workbook only when it has one (an .xlsx holds xl/workbook.xml)."""
    try:
        source.seek(0)
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileError(_("The file is not a readable .xlsx workbook (%(error)s).") % {"error": preview(exc)}) from None
    finally:
        source.seek(0)
    if "xl/workbook.xml" in names:
        return
    if "word/document.xml" in names:
        what = _("a Word document (.docx)")
    elif any(name.startswith("ppt/") for name in names):
        what = _("a PowerPoint presentation (.pptx)")
    elif "content.xml" in names and "mimetype" in names:
        what = _("an OpenDocument file (.ods, .odt)")
    else:
        what = _("a ZIP archive")
    raise FileError(_("This file looks like %(what)s, not a CSV file or an Excel workbook (.xlsx); "
                      "nothing was kept. Save the sheet as .xlsx or CSV.") % {"what": what})


def xlsx_inflated_size(source) -> int:
    """The bytes an XLSX's parts take once inflated, as its directory declares them (the reader
    stops at the declared size of each part, so a part cannot inflate to more)."""
    try:
        source.seek(0)
        with zipfile.ZipFile(source) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileError(_("The file is not a readable .xlsx workbook (%(error)s).") % {"error": preview(exc)}) from None
    finally:
        source.seek(0)


def check_inflated(source, *, limit: int, ratio: int = XLSX_MAX_RATIO) -> int:
    """Refuse an XLSX that inflates past `limit` bytes, or more than `ratio` times its size beyond
    a few megabytes (what a crafted file does: a real sheet packs 5 to 20 times); returns the size."""
    inflated = xlsx_inflated_size(source)
    source.seek(0, io.SEEK_END)
    packed = max(source.tell(), 1)
    source.seek(0)
    if inflated > limit or (inflated > XLSX_RATIO_FROM and inflated > ratio * packed):
        raise FileError(_("This workbook is %(packed)s but unpacks to %(inflated)s; at most %(limit)s (and %(ratio)s "
                          "times its size) is read. Save it as CSV, or split it into smaller files.") % {
            "packed": filesizeformat(packed), "inflated": filesizeformat(inflated), "limit": filesizeformat(limit),
            "ratio": ratio})
    return inflated


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


# The encodings a CSV may be read in: the choice a form or the API offers -> (the codec that reads
# it, its name). Each codec reads the whole family (GBK and GB2312 files are GB18030; Shift_JIS as
# Windows and Excel write it is CP932).
ENCODINGS = {
    "utf-8": ("utf-8-sig", "UTF-8"),
    "gb18030": ("gb18030", "GB18030 / GBK (简体中文)"),
    "big5": ("big5hkscs", "Big5 (繁體中文)"),
    "shift_jis": ("cp932", "Shift_JIS (日本語)"),
    "euc_jp": ("euc_jis_2004", "EUC-JP (日本語)"),
    "euc_kr": ("cp949", "EUC-KR / CP949 (한국어)"),
    "utf-16": ("utf-16", "UTF-16"),
    "windows-1252": ("cp1252", gettext_lazy("Windows-1252 (Western European)")),
}
_FAMILY = {
    "utf_8": "utf-8", "ascii": "utf-8", "utf_8_sig": "utf-8",
    "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "hz": "gb18030",
    "big5": "big5", "big5hkscs": "big5", "cp950": "big5",
    "cp932": "shift_jis", "shift_jis": "shift_jis", "shift_jis_2004": "shift_jis", "shift_jisx0213": "shift_jis",
    "euc_jp": "euc_jp", "euc_jis_2004": "euc_jp", "euc_jisx0213": "euc_jp",
    "cp949": "euc_kr", "euc_kr": "euc_kr", "johab": "euc_kr",
    "utf_16": "utf-16", "utf_16_le": "utf-16", "utf_16_be": "utf-16",
    "cp1252": "windows-1252", "latin_1": "windows-1252", "iso8859_1": "windows-1252", "iso8859_15": "windows-1252",
}
# Detection decides alone only between these (a Latin code page fits any bytes: only a person can say).
DETECTED_ALONE = {"utf-8", "gb18030", "big5", "shift_jis", "euc_jp", "euc_kr"}
ENCODING_SAMPLE = 1024 * 1024  # the start of a file that detection reads...
ENCODING_TEXT_SAMPLE = 256 * 1024  # ...and at most this much of its lines that are not plain ASCII
CHAOS_MAX, MARGIN = 0.2, 0.05  # charset-normalizer's mess ratio, and the lead the best family needs


def codec_for(encoding: str) -> str:
    return ENCODINGS[encoding][0] if encoding in ENCODINGS else encoding


def encoding_label(encoding: str) -> str:
    return str(ENCODINGS[encoding][1]) if encoding in ENCODINGS else encoding


def encoding_choices() -> list[tuple[str, str]]:
    return [(key, label) for key, (_codec, label) in ENCODINGS.items()]


class EncodingUnclear(FileError):
    """A CSV whose encoding cannot be told for sure, or is not the one declared; `detected` are the
    encodings (choices) the text could be, best first."""

    def __init__(self, message: str, *, detected: list[str], declared: str | None = None) -> None:
        super().__init__(message)
        self.detected = detected
        self.declared = declared


def _text_sample(source) -> bytes:
    """The file's lines that are not plain ASCII, at most ENCODING_TEXT_SAMPLE bytes of them: ASCII
    reads the same in every encoding offered, and a file whose first rows are ASCII and whose
    Chinese starts later must be judged by its Chinese. Read in chunks, never held whole."""
    found, size, rest = [], 0, b""
    while size < ENCODING_TEXT_SAMPLE:
        chunk = source.read(ENCODING_SAMPLE)
        if not chunk:
            lines, rest = rest, b""
        else:
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            if cut == 0 and len(chunk) < ENCODING_TEXT_SAMPLE:
                rest = chunk  # a line longer than a chunk: read on
                continue
            if cut == 0:  # one line longer than the sample: its start is the sample
                found.append(chunk[: ENCODING_TEXT_SAMPLE - size])
                break
            lines, rest = chunk[:cut], chunk[cut:]
        if not lines.isascii():
            for line in lines.splitlines(keepends=True):
                if not line.isascii():
                    found.append(line[: ENCODING_TEXT_SAMPLE - size])
                    size += len(found[-1])
                    if size >= ENCODING_TEXT_SAMPLE:
                        break
        if not chunk:
            break
    return b"".join(found)


def _candidates(sample: bytes) -> tuple[list[str], bool]:
    """The families the sample could be, best first, and whether the best one is clear."""
    from charset_normalizer import from_bytes

    results = list(from_bytes(sample))
    ranked: list[tuple[str, float, float]] = []
    for match in results:
        family = _FAMILY.get(match.encoding, match.encoding)
        if family not in [f for f, _c, _h in ranked]:
            ranked.append((family, match.chaos, match.coherence))
    if not ranked:
        return [], False
    best, chaos, coherence = ranked[0]
    # The rivals that count are the other multi-byte encodings: a single-byte code page decodes any
    # bytes at all, so its fitting says nothing against text whose bytes form valid CJK pairs.
    clear = best in DETECTED_ALONE and chaos <= CHAOS_MAX and all(
        other_chaos >= chaos + MARGIN or other_coherence <= coherence - MARGIN
        for family, other_chaos, other_coherence in ranked[1:] if family in DETECTED_ALONE)
    return [family for family, _c, _h in ranked], clear


def _names(families: list[str]) -> str:
    offered = [encoding_label(f) for f in families if f in ENCODINGS][:4]
    return ", ".join(offered) or _("none of the encodings offered")


def choose_encoding(source, declared: str | None = None) -> str:
    """The encoding (a key of ENCODINGS) to read a CSV in: its byte-order mark, text that is valid
    UTF-8, or what charset-normalizer finds when one family is clearly the best. A declared
    encoding is taken when the text reads in it and detection does not clearly say another. Never a
    guess: an unclear or contradicted file is refused (EncodingUnclear), naming what it looks like
    and asking to choose. Leaves `source` at its start."""
    if declared is not None and declared not in ENCODINGS:
        raise FileError(_("Unknown encoding “%(encoding)s”; one of: %(choices)s.")
                        % {"encoding": preview(declared), "choices": ", ".join(ENCODINGS)})
    try:
        found = _detected(source, declared)
    finally:
        source.seek(0)
    return found


def _detected(source, declared: str | None) -> str:
    head = source.read(4)
    source.seek(0)
    marked = "utf-8" if head.startswith(codecs.BOM_UTF8) else (
        "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None)
    if marked is not None:
        if declared not in (None, marked):
            raise EncodingUnclear(_disagree(declared, [marked]), detected=[marked], declared=declared)
        return marked
    sample = _text_sample(source)
    if sample.isascii():  # plain ASCII reads the same in every choice but UTF-16
        if declared == "utf-16":
            raise EncodingUnclear(_disagree(declared, ["utf-8"]), detected=["utf-8"], declared=declared)
        return declared or "utf-8"
    try:
        _decode(sample, "utf-8")
        families, clear = ["utf-8"], True
    except UnicodeDecodeError:
        families, clear = _candidates(sample)
        families = [f for f in families if f != "utf-8"]
    if not any(f in ENCODINGS for f in families):
        raise EncodingUnclear(_("The file's text reads as none of the encodings offered here (it is not UTF-8, "
                                "GB18030, Big5, Shift_JIS...). Save it again as “CSV UTF-8”; nothing was kept."),
                              detected=families, declared=declared)
    if declared is None:
        if clear:
            return families[0]
        raise EncodingUnclear(_("The file's encoding cannot be told for sure: it could be %(detected)s. Choose the "
                                "encoding it was saved in and upload it again; nothing was kept.")
                              % {"detected": _names(families)}, detected=families)
    if clear and families[0] != declared:
        raise EncodingUnclear(_disagree(declared, families), detected=families, declared=declared)
    try:
        _decode(sample, codec_for(declared))
    except UnicodeDecodeError:
        raise EncodingUnclear(_("The file cannot be read as %(declared)s; it looks like %(detected)s. Choose the "
                                "encoding it was saved in and upload it again; nothing was kept.")
                              % {"declared": encoding_label(declared), "detected": _names(families)},
                              detected=families, declared=declared) from None
    return declared


def _decode(sample: bytes, codec: str) -> str:
    """The sample as text; its last character may have been cut by the sample's end."""
    return codecs.getincrementaldecoder(codec)(errors="strict").decode(sample, final=False)


def _disagree(declared: str, families: list[str]) -> str:
    return _("You chose %(declared)s, but the file looks like %(detected)s. Choose the encoding it was saved in "
             "and upload it again; nothing was kept.") % {
        "declared": encoding_label(declared), "detected": _names(families)}


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
    """(row number, cells) of a CSV stream, the header included as row 1, read in `encoding` (a
    key of ENCODINGS or a codec); without one, UTF-8 or else GB18030 (detect_encoding)."""
    encoding = codec_for(encoding) if encoding else detect_encoding(source)
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
            _("The file cannot be read as %(encoding)s after row %(row)d (characters of another encoding); "
              "choose the encoding it was saved in, or save it again as “CSV UTF-8”.")
            % {"encoding": encoding_label(_FAMILY.get(codecs.lookup(encoding).name.replace("-", "_"), encoding)),
               "row": number},
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
