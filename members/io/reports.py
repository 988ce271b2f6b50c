"""An import's full error report, worded for whoever downloads it: the stored file holds each
error as a code and its parameters (members.io.bulk.Importer.report_csv); this streams it as a CSV
of row, column, value and message in the reader's language (UTF-8 with BOM, for Excel), every
echoed value formula-safe. A report stored before codes is handed out as it was written."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.utils.translation import gettext as _

from members.io import messages
from members.io.bulk import REPORT_HEADER
from scrm.files import neutralise, preview

CHUNK = 256 * 1024


def worded(handle) -> Iterator[bytes]:
    """The report in `handle` (binary), as the reader downloads it; closes `handle` at the end."""
    try:
        first = handle.readline()
        if first.rstrip(b"\r\n").decode("utf-8", "replace") != ",".join(REPORT_HEADER):
            yield first
            while chunk := handle.read(CHUNK):
                yield chunk
            return
        yield from _worded_rows(io.TextIOWrapper(handle, encoding="utf-8", newline=""))
    finally:
        handle.close()


def _worded_rows(text) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([_("row"), _("column"), _("value"), _("message")])
    for row, column, value, code, params in csv.reader(text):
        try:
            parsed = json.loads(params) if params else {}
        except ValueError:
            parsed = {}
        message = messages.row_message(code, parsed if isinstance(parsed, dict) else {})
        writer.writerow([row, neutralise(preview(column) or ""), neutralise(preview(value) or ""), neutralise(message)])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
