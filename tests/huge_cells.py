"""Files with one huge cell, built in the test: a CSV, and an XLSX whose huge cell is a shared
string (what Excel writes; openpyxl itself writes inline strings and cuts cells at 32,767)."""

from __future__ import annotations

import io
import zipfile

HUGE = "@@HUGE@@"
SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SHARED_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def xlsx_with_huge_shared_string(rows, huge: str) -> bytes:
    """An .xlsx of `rows`; the cell holding HUGE holds `huge` instead, as shared string 0."""
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    plain = io.BytesIO()
    workbook.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(f't="inlineStr"><is><t>{HUGE}</t></is>'.encode(), b't="s"><v>0</v>')
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" '
                                                 f'ContentType="{SHARED_STRINGS}"/></Types>'.encode())
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Id="rIdHuge" Type="{SHARED_REL}" '
                                                         f'Target="sharedStrings.xml"/></Relationships>'.encode())
            target.writestr(info, data)
        target.writestr("xl/sharedStrings.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
            f"<si><t>{huge}</t></si></sst>").encode())
    return out.getvalue()
