"""First load: a brand's members brought in on day one, millions at a time, into an empty (or
nearly empty) pool.

The file is the import's file (CSV or XLSX, the same columns, `members.io.columns`) and goes through
the import's own code (`members.io.bulk.Importer`): the same COPY into staging tables, the same
validation, the same INSERT ... SELECT and UPDATE ... FROM writing members, identities, tags, owner
relations, attributes, consent (Consent, ConsentRecord, the member event) and the event log
(member.joined, member.tag_added, member.consent_changed). What differs is around the writes,
all in one transaction:

1. refuse unless the pool is empty or nearly so (`pool_problem`): at most
   MEMBER_FIRST_LOAD_MAX_MEMBERS (1,000) members, and no row of any other table that points at a
   member (orders, points, tiers, deliveries, sign-ups, notes, posts...: anything a live pool has;
   the tables the import writes itself do not count); and refuse while an import or another first
   load runs (advisory lock FIRST_LOAD_LOCK: every import takes it shared, a first load alone);
2. validate the whole file; any error and nothing is written (the import's strict mode), the
   errors named by row and column;
3. take the member tables' secondary indexes, unique constraints and foreign keys away (their
   definitions kept from the catalogue), and the segments' triggers (the bitmap index);
4. write the rows with the import's statements in their `bare` form: the same rows, without ON
   CONFLICT (which needs the unique indexes); each statement leaves out what a conflict would
   have skipped;
5. build every index again, add every constraint back (PostgreSQL checks each as it is added: a
   duplicate identity or a dangling reference fails the load), rebuild the bitmap index from the
   tables, ANALYZE.

A failure anywhere rolls the whole transaction back, the dropped indexes and constraints with it
(PostgreSQL's DDL is transactional). While it runs the member tables and the event log are locked
(ACCESS EXCLUSIVE from step 3): the rest of the system waits for them, which is why it is for a
pool nobody uses yet.

What it does not do that an import does: no ImportJob row (the command prints the report; an audit
entry `members.first_load` records it), no per-job time limit (the command is run by hand), and
surrogate ids (identity, tag link, relation rows) may differ where the import's ON CONFLICT would
have consumed a sequence value for a skipped row. The rows themselves are the same
(tests/members/io/test_first_load.py compares them).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from members import sql as members_sql
from members.io import bulk, columns, messages
from members.io import services as import_services
from members.segments import index as segments_index
from scrm import events, files
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.services import audit

logger = logging.getLogger(__name__)

FIRST_LOAD_LOCK = import_services.FIRST_LOAD_LOCK  # a first load holds it alone, each import shared
FIRST_ERRORS = 200
# The tables the import writes (and the first load strips and rebuilds), in writing order.
TABLES = (members_sql.MEMBER, members_sql.IDENTITY, members_sql.MEMBER_TAG, members_sql.STAFF_RELATION,
          members_sql.CONSENT, members_sql.CONSENT_RECORD, members_sql.MEMBER_EVENT, events.EVENT)


def max_members() -> int:
    """A pool with more members than this is live: a first load refuses it."""
    return int(getattr(settings, "MEMBER_FIRST_LOAD_MAX_MEMBERS", 1000))


def max_rows() -> int:
    return int(getattr(settings, "MEMBER_FIRST_LOAD_MAX_ROWS", 50_000_000))


class FirstLoadRefused(ServiceError):
    """A first load that does not start, or a file it does not take: nothing was written."""

    status = 409
    code = "first_load_refused"

    def __init__(self, message: str, *, errors: list[dict] | None = None, error_count: int = 0,
                 code: str | None = None) -> None:
        self.errors = errors or []
        self.error_count = error_count or len(self.errors)
        super().__init__(message, details={"errors": self.errors} if self.errors else {}, code=code)


@dataclass
class FirstLoad:
    """What a first load wrote and how long each step took (seconds)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    identities: int = 0
    tags: int = 0
    consents: int = 0
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def may_run(actor) -> bool:
    """Operators only (and the command line, which runs as nobody): a first load locks every member
    table and writes brand-wide."""
    return actor is None or (getattr(actor, "api_key", None) is None
                             and getattr(actor, "role", None) == Role.OPERATOR)


def check_actor(actor) -> None:
    if not may_run(actor):
        raise FirstLoadRefused(_("Only an operator can run a first load."), code="permission_denied")


def pool_problem() -> str | None:
    """Why the member pool is live (a first load is refused), or None. Live: more than
    max_members() members, or any row of a table outside the import's own that refers to a member
    (an order, points, a delivery, a sign-up, a note...), found from the foreign keys themselves so
    a new app's tables count without being listed."""
    limit = max_members()
    with connection.cursor() as cursor:  # two queries, whatever the number of tables
        cursor.execute("""
            SELECT c.conrelid::regclass::text, a.attname
            FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.confrelid = %s::regclass AND array_length(c.conkey, 1) = 1
              AND NOT c.conrelid = ANY(%s::regclass[])
            ORDER BY 1, 2""", [members_sql.MEMBER, list(TABLES)])
        history = " UNION ALL ".join(
            f"SELECT {_literal(table)} AS t WHERE EXISTS (SELECT 1 FROM {table} WHERE \"{column}\" IS NOT NULL)"
            for table, column in cursor.fetchall()) or "SELECT NULL::text AS t WHERE false"
        cursor.execute(f"""
            SELECT (SELECT count(*) FROM (SELECT 1 FROM {members_sql.MEMBER} LIMIT %s) AS m),
                   (SELECT t FROM ({history}) AS h LIMIT 1),
                   EXISTS (SELECT 1 FROM {members_sql.MEMBER} WHERE NOT ({members_sql.live(None)}))""",
                       [limit + 1])
        members, table, gone = cursor.fetchone()
    if members > limit:
        return _("The pool has more than %(max)s members: a first load is only for an empty pool. "
                 "Use the import.") % {"max": f"{limit:,}"}
    if table:
        return _("Members already have history (%(table)s): a first load is only for a pool nobody "
                 "uses yet. Use the import.") % {"table": table}
    if gone:
        return _("Members were already merged or erased: a first load is only for a pool nobody uses yet. "
                 "Use the import.")
    return None


def _literal(text: str) -> str:
    """A table name (from the catalogue) as a SQL string."""
    return "'" + text.replace("'", "''") + "'"


def run(path: str | Path, *, actor=None, encoding: str | None = None) -> FirstLoad:
    """Load the file at `path` into an empty pool (see the module's docstring); FirstLoadRefused
    says why not, with the file's errors when it has any. Nothing is written unless all is."""
    check_actor(actor)
    path = Path(path)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with open(path, "rb") as handle:
        kind, encoding = _inspect(handle, path, encoding)
        rows = files.xlsx_rows(handle) if kind == "xlsx" else files.csv_rows(handle, encoding=encoding or None)
        try:
            header = next(rows, None)
            if header is None:
                raise FirstLoadRefused(_("The file is empty."), code="validation_error")
            layout = columns.parse_header(header[1])
            with transaction.atomic():
                _claim()
                importer = bulk.Importer(layout=layout, store_id=None, user_id=getattr(actor, "pk", None),
                                         max_rows=max_rows())
                importer.load(rows)
                importer.validate()
                _check(importer)
                result = _write(importer, timings)
                audit.record(actor=actor, action="members.first_load", detail={
                    "rows": result.rows, "created": result.created, "updated": result.updated,
                    "tags_added": result.tags})
        except columns.HeaderError as exc:
            errors = [{"row": 1, "column": files.preview(text), "column_number": number, "value": files.preview(text),
                       "message": files.preview(message, 500)} for number, text, message in exc.errors]
            raise FirstLoadRefused(_("The first row (the column names) cannot be used; nothing was loaded."),
                                   errors=errors, code="validation_error") from None
        except files.FileError as exc:
            raise FirstLoadRefused(files.preview(str(exc), 500) + " " + _("Nothing was loaded."),
                                   code="validation_error") from None
    for phase in ("load", "validate"):
        timings[phase] = importer.outcome.timings.get(phase, 0)
    result.seconds = round(time.perf_counter() - started, 3)
    result.timings = timings
    logger.info("first load: %s rows in %.1f s (%s)", result.rows, result.seconds, timings)
    return result


def _inspect(handle, path: Path, encoding: str | None) -> tuple[str, str]:
    """What the file is, by the import's own checks (content, not name; the CSV's encoding)."""
    try:
        return import_services.inspect_upload(handle, name=PurePath(path).name, encoding=encoding)
    except import_services.ImportRefused as exc:
        raise FirstLoadRefused(exc.message, code="validation_error") from None


def _claim() -> None:
    """This transaction's hold on the pool: the first-load lock, the member tables locked against
    writers (readers go on until the indexes are dropped), then the pool checked under that lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", list(FIRST_LOAD_LOCK))
        if not cursor.fetchone()[0]:
            raise FirstLoadRefused(_("An import or another first load is running; try again when it has finished."),
                                   code="busy")
        # Checks still queued in the caller's transaction run now: a table with pending trigger
        # events cannot be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL lock_timeout = '30s'")
        cursor.execute(f"LOCK TABLE {', '.join(TABLES)} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SET LOCAL lock_timeout = 0")
    problem = pool_problem()
    if problem:
        raise FirstLoadRefused(problem, code="pool_live")


def _check(importer: bulk.Importer) -> None:
    outcome = importer.outcome
    if outcome.rows == 0:
        raise FirstLoadRefused(_("The file has no rows; nothing was loaded."), code="validation_error")
    if outcome.invalid:
        errors = messages.rendered(importer.first_errors(FIRST_ERRORS))
        raise FirstLoadRefused(
            _("%(invalid)s of %(rows)s rows have errors (%(errors)s in all); nothing was loaded.")
            % {"invalid": f"{outcome.invalid:,}", "rows": f"{outcome.rows:,}", "errors": f"{outcome.errors:,}"},
            errors=errors, error_count=outcome.errors, code="validation_error")


def _write(importer: bulk.Importer, timings: dict) -> FirstLoad:
    def step(name: str, begun: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - begun, 3)
        return now

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
    begun = time.perf_counter()
    saved = _strip()
    begun = step("drop", begun)
    importer.write(bare=True)
    begun = step("write", begun)
    _restore(saved)
    begun = step("rebuild", begun)
    segments_index.rebuild()
    begun = step("bitmaps", begun)
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")
    step("analyze", begun)
    outcome = importer.outcome
    return FirstLoad(rows=outcome.rows, created=outcome.created, updated=outcome.updated,
                     identities=outcome.identities_added, tags=outcome.tags_added,
                     consents=outcome.consents_changed)


@dataclass
class _Saved:
    indexes: list[str]  # CREATE INDEX statements (not those behind a constraint)
    constraints: list[tuple[str, str, str, str]]  # (table, name, type, definition)
    triggers: list[tuple[str, str]]  # (table, trigger) disabled for the load


def _strip() -> _Saved:
    """Take away the secondary indexes, unique constraints and foreign keys of the tables written
    (primary keys, NOT NULL and CHECK constraints stay), and the segments' triggers; return what
    is needed to put them back as they were."""
    tables = list(TABLES)
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
            FROM pg_constraint c
            WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('u', 'f')
            ORDER BY c.contype DESC, 1, 2""", [tables])  # unique before foreign keys
        constraints = cursor.fetchall()
        cursor.execute("""
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 1""", [tables])
        indexes = cursor.fetchall()
        for table, name, _kind, _definition in reversed(constraints):  # foreign keys first
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
        cursor.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                       "WHERE tgrelid = ANY(%s::regclass[]) AND tgname = ANY(%s) AND tgenabled <> 'D' ORDER BY 1, 2",
                       [list(segments_index.TRIGGER_NAMES), [n for names in segments_index.TRIGGER_NAMES.values()
                                                             for n in names]])
        triggers = cursor.fetchall()
        for table, name in triggers:
            cursor.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{name}"')
    return _Saved(indexes=[definition for _name, definition in indexes], constraints=constraints,
                  triggers=triggers)


def _restore(saved: _Saved) -> None:
    """Everything _strip took, back: each index built once over the loaded rows, each constraint
    checked over them as it is added (a violation fails the load, which rolls back)."""
    with connection.cursor() as cursor:
        for definition in saved.indexes:
            cursor.execute(definition)
        for table, name, _kind, definition in saved.constraints:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for table, name in saved.triggers:
            cursor.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{name}"')
