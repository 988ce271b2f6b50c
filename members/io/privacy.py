"""Member imports' part of erasure and retention: the uploaded files, their error reports and the
errors kept on the job hold names, phones and attribute values as the file had them.

Erasure finds the member's rows in every upload (a phone in any spelling, a channel id, the member
id of an export imported back), rewrites the file without them, drops the same rows (and any line
quoting the member) from the report and the job's first errors. A file that cannot be read but
mentions the member is deleted. Retention deletes files and reports older than
`SIYU_UPLOAD_RETENTION_DAYS` (and the errors kept with them); the job row stays, with its counts."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import tempfile
from datetime import timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files import File
from django.db import transaction

from members.io.models import ImportFormat, ImportJob, ImportStatus, io_storage
from members.phones import InvalidPhone, normalize_phone
from members.privacy_registry import ErasureSubject, looks_like_phone
from scrm.files import FileError, csv_rows, detect_encoding, xlsx_rows

ID_HEADERS = frozenset({"id", "会员id", "member id", "会员编号"})
RUNNING = (ImportStatus.PENDING, ImportStatus.VALIDATING, ImportStatus.IMPORTING)
UPLOAD_DIR = "imports"


def upload_retention_days() -> int:
    return max(int(getattr(settings, "SIYU_UPLOAD_RETENTION_DAYS", 30)), 1)


# --- finding the member in a file ------------------------------------------------------------------


class _Matcher:
    """Whether a row of an import file is about the subject."""

    def __init__(self, subject: ErasureSubject) -> None:
        self.phones = set(subject.phones)
        self.exact = {s for s in (*subject.phone_spellings, *(i[2] for i in subject.identities)) if s}
        self.member_ids = {str(i) for i in subject.member_ids}
        self.id_column: int | None = None

    def header(self, cells: list[str]) -> None:
        self.id_column = next((i for i, c in enumerate(cells) if c.strip().lower() in ID_HEADERS), None)

    def _cell(self, text: str) -> bool:
        if text in self.exact:
            return True
        if looks_like_phone(text):
            try:
                return normalize_phone(text) in self.phones
            except InvalidPhone:
                return False
        return False

    def row(self, cells: list[str]) -> bool:
        for index, cell in enumerate(cells):
            text = str(cell).strip()
            if not text:
                continue
            if index == self.id_column and text in self.member_ids:
                return True
            if self._cell(text) or (";" in text and any(self._cell(p.strip()) for p in text.split(";"))):
                return True
        return False


def _rows(storage, name: str, kind: str):
    with storage.open(name, "rb") as source:
        yield from (xlsx_rows(source) if kind == ImportFormat.XLSX else csv_rows(source))


def _matching_rows(storage, name: str, kind: str, subject: ErasureSubject) -> set[int]:
    matcher = _Matcher(subject)
    found = set()
    for number, cells in _rows(storage, name, kind):
        if number == 1:
            matcher.header(cells)
        elif matcher.row(cells):
            found.add(number)
    return found


def _raw_mentions(storage, name: str, subject: ErasureSubject) -> bool:
    """Whether the bytes of a file hold a needle, in UTF-8 or GB18030 (for files no reader takes)."""
    needles = {n.encode(enc) for n in subject.needles for enc in ("utf-8", "gb18030")}
    tail = b""
    with storage.open(name, "rb") as source:
        while chunk := source.read(1 << 20):
            window = tail + chunk
            if any(n in window for n in needles):
                return True
            tail = window[-64:]
    return False


# --- rewriting a file ------------------------------------------------------------------------------
# A scrubbed file is written under a new name and the job pointed at it inside the erasure's
# transaction; the old file is deleted once that transaction commits. A rolled-back erasure leaves
# the job on its old, untouched file (the new one is an orphan the retention sweep removes), so a
# retry starts from the same place.


def _clean_name(name: str, subject: ErasureSubject) -> str:
    path = PurePosixPath(name)
    return str(path.with_name(subject.scrub(path.name).replace("[", "").replace("]", "")))


def _write_new(storage, name: str, subject: ErasureSubject, write) -> str:
    """Save what write(binary handle) writes as a new file beside `name`; returns its name."""
    with tempfile.TemporaryFile() as handle:
        write(handle)
        handle.seek(0)
        return storage.save(_clean_name(name, subject), File(handle))


def _delete_on_commit(storage, names: list[str]) -> None:
    def delete():
        for name in names:
            if storage.exists(name):
                storage.delete(name)

    transaction.on_commit(delete)


def _csv_dialect(storage, name: str) -> tuple[str, str]:
    with storage.open(name, "rb") as source:
        encoding = detect_encoding(source)
        first_line = source.read(64 * 1024).split(b"\n", 1)[0]
    return encoding, "\t" if first_line.count(b"\t") > first_line.count(b",") else ","


def _without_rows(storage, name: str, kind: str, drop: set[int]):
    """A writer of the file `name` without the rows `drop`, in its own format."""
    if kind == ImportFormat.XLSX:
        from openpyxl import Workbook

        def write_xlsx(handle):
            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet()
            for number, cells in _rows(storage, name, kind):
                if number not in drop:
                    sheet.append(cells)
            workbook.save(handle)

        return write_xlsx
    encoding, delimiter = _csv_dialect(storage, name)

    def write_csv(handle):
        text = io.TextIOWrapper(handle, encoding=encoding, newline="", write_through=True)
        writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
        for number, cells in _rows(storage, name, kind):
            if number not in drop:
                writer.writerow(cells)
        text.flush()
        text.detach()

    return write_csv


def _report_without(storage, name: str, rows: set[int], subject: ErasureSubject):
    """(lines removed, a writer of the report without the lines of `rows` or quoting the member)."""
    with storage.open(name, "rb") as source:
        data = source.read()
    bom = data.startswith(codecs.BOM_UTF8)  # older reports have one; newer ones hold codes, read by members.io.reports
    lines = list(csv.reader(data.decode("utf-8-sig").splitlines()))

    def about_member(line: list[str], index: int) -> bool:
        if index == 0 or not line:
            return False
        number = line[0].strip()
        return (number.isdigit() and int(number) in rows) or any(subject.mentioned_in(c) for c in line[1:])

    kept = [line for index, line in enumerate(lines) if not about_member(line, index)]

    def write(handle):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(kept)
        handle.write((codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode())

    return len(lines) - len(kept), write


def _copy(storage, name: str):
    def write(handle):
        with storage.open(name, "rb") as source:
            while chunk := source.read(1 << 20):
                handle.write(chunk)

    return write


def _scrubbed_errors(errors: list, rows: set[int], subject: ErasureSubject) -> list:
    def about_member(error) -> bool:
        if not isinstance(error, dict):
            return subject.mentioned_in(str(error))
        return error.get("row") in rows or subject.mentioned_in(json.dumps(error, ensure_ascii=False))

    return [e for e in errors or [] if not about_member(e)]


def scrub_upload_file(storage, name: str, kind: str, subject: ErasureSubject) -> tuple[str | None, set[int]]:
    """For uploads of other apps (order imports): the member's rows out of the file `name` of
    format `kind` ("csv" or "xlsx"). Returns (the name of the rewritten file, "" when the file cannot
    be read but mentions the member and must go, or None when nothing changes; the rows removed).
    The caller points its rows at the new name and deletes the old file once committed
    (`delete_on_commit`)."""
    try:
        rows = _matching_rows(storage, name, kind, subject)
    except FileError:
        return ("" if _raw_mentions(storage, name, subject) else None), set()
    if rows:
        return _write_new(storage, name, subject, _without_rows(storage, name, kind, rows)), rows
    if subject.mentioned_in(name):
        return _write_new(storage, name, subject, _copy(storage, name)), set()
    return None, set()


def scrubbed_errors(errors: list, rows: set[int], subject: ErasureSubject) -> list:
    """Stored errors without those of `rows` or quoting the member."""
    return _scrubbed_errors(errors, rows, subject)


def delete_on_commit(storage, names: list[str]) -> None:
    _delete_on_commit(storage, names)


# --- the erasure step ------------------------------------------------------------------------------


def _scrub_upload(job: ImportJob, subject: ErasureSubject, storage, counts: dict, changes: dict) -> set[int]:
    """The member's rows out of the uploaded file; returns their numbers."""
    name = job.file.name
    try:
        rows = _matching_rows(storage, name, job.format, subject)
    except FileError:
        if _raw_mentions(storage, name, subject):
            changes["file"] = ""
            counts["files_deleted"] += 1
        return set()
    if rows:
        changes["file"] = _write_new(storage, name, subject, _without_rows(storage, name, job.format, rows))
        counts["rows"] += len(rows)
    elif subject.mentioned_in(name):
        changes["file"] = _write_new(storage, name, subject, _copy(storage, name))
    return rows


def _scrub_job(job: ImportJob, subject: ErasureSubject, counts: dict) -> None:
    storage = io_storage()
    rows: set[int] = set()
    changes: dict = {}
    if job.file.name and storage.exists(job.file.name):
        rows = _scrub_upload(job, subject, storage, counts, changes)
    if job.report.name and storage.exists(job.report.name):
        removed, write = _report_without(storage, job.report.name, rows, subject)
        if removed or subject.mentioned_in(job.report.name):
            changes["report"] = _write_new(storage, job.report.name, subject, write)
            counts["report_lines"] += removed
    errors = _scrubbed_errors(job.errors, rows, subject)
    if errors != (job.errors or []):
        counts["errors"] += len(job.errors) - len(errors)
        changes["errors"] = errors
    for field in ("original_name", "message"):
        value = getattr(job, field)
        if value and subject.mentioned_in(value):
            changes[field] = subject.scrub(value)
    if changes:
        ImportJob.objects.filter(pk=job.pk).update(**changes)
        _delete_on_commit(storage, [getattr(job, f).name for f in ("file", "report") if f in changes])
        counts["jobs"] += 1


def erase(subject: ErasureSubject) -> dict:
    """Take the member out of every import file, report and stored error (see the module docstring)."""
    counts = {"jobs": 0, "rows": 0, "report_lines": 0, "errors": 0, "files_deleted": 0}
    jobs = ImportJob.objects.exclude(file="", report="", errors=[]).order_by("pk")
    for job in jobs.iterator(chunk_size=200):
        _scrub_job(job, subject, counts)
    return counts


# --- the retention step ----------------------------------------------------------------------------


def _expire_jobs(cutoff, batch: int, storage) -> dict:
    """The oldest `batch` expired jobs lose their files and kept errors (rows claimed with SKIP
    LOCKED, so two passes never take the same job); the files go once that is committed, and a file
    a crash leaves behind has no job any more: the orphan sweep takes it."""
    expired = (
        ImportJob.objects.filter(created_at__lt=cutoff)
        .exclude(status__in=RUNNING)
        .exclude(file="", report="", errors=[])
    )
    with transaction.atomic():
        jobs = list(expired.order_by("pk").select_for_update(skip_locked=True)[:batch])
        names = [name for job in jobs for name in (job.file.name, job.report.name) if name]
        ImportJob.objects.filter(pk__in=[j.pk for j in jobs]).update(file="", report="", errors=[])
    deleted = 0
    for name in names:
        if storage.exists(name):
            storage.delete(name)
            deleted += 1
    return {"jobs": len(jobs), "files": deleted}


def _sweep_orphans(cutoff, batch: int, storage) -> int:
    """Files under imports/ older than the cutoff that no job points to (a deleted job's, a crashed
    upload's); local storage only. At most `batch` per run."""
    try:
        root = storage.path(UPLOAD_DIR)
    except NotImplementedError:
        return 0
    if not os.path.isdir(root):
        return 0
    referenced = set()
    for file_name, report_name in ImportJob.objects.values_list("file", "report").iterator(chunk_size=5000):
        referenced.update((file_name, report_name))
    removed = 0
    limit = cutoff.timestamp()
    base = storage.path("")
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, base).replace(os.sep, "/")
            if relative in referenced or os.path.getmtime(path) >= limit:
                continue
            os.unlink(path)
            removed += 1
            if removed >= batch:
                return removed
    return removed


def expire_uploads(*, now, batch: int) -> dict:
    """Delete upload files and error reports older than the retention period, and the first errors
    kept on their jobs; returns the counts."""
    cutoff = now - timedelta(days=upload_retention_days())
    storage = io_storage()
    counts = _expire_jobs(cutoff, batch, storage)
    counts["orphans"] = _sweep_orphans(cutoff, batch, storage)
    return counts


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_erasure_step("imports", erase)
    privacy_registry.register_retention_step("uploads", expire_uploads)
