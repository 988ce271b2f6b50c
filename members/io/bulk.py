"""The set-based import path: COPY the file's rows into temporary staging tables, validate them
with a handful of SQL statements, then write members, identities, tags and owner relations with
INSERT ... SELECT and UPDATE ... FROM. Python only streams the file into COPY (and checks the few
phone numbers the SQL fast path cannot decide); nothing loops over members.

Everything runs inside the caller's transaction: the staging tables are ON COMMIT DROP, and a
strict or dry run writes nothing but them.

Staging tables (all temporary):
  io_raw    the cells as text, one row per file row, with the file's row number
  io_rows   cleaned cells (v<i>) and typed values (phone, gender, store_id, a<i> attributes...)
  io_ident  one row per identity cell (the valid phone included)
  io_match  the rows that name an existing member: the members holding their ids (held, in column
            order), and the first column that matched
  io_tags   one row per tag named in the tags cell, resolved to a tag id
  io_err    (row, column, value, message): the report
  io_ok     the rows to write, each with its member id (new ids drawn from the sequence)
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from members import sql as members_sql
from members.io.columns import CONSENT_VALUES, Column, Layout, gender_values, source_values, stage_values
from members.models import AddWay, AttributeType, Channel, ConsentChannel, MemberEvent, Source, TagSource
from members.phones import INVALID, LETTERS, SEVERAL, InvalidPhone
from members.services import attributes, profile
from members.services import tags as tag_services
from members.services.attributes import BOOLEAN_WORDS, TEXT_MAX
from members.services.consent import CONSENT_CHANGED
from members.services.identities import EXTERNAL_ID_MAX
from members.services.profile import BIRTHDAY_MIN, NAME_MAX
from members.services.upsert import JOINED
from scrm import events, jobs
from scrm import sql as scrm_sql
from scrm.files import PREVIEW_MAX, FileError
from scrm.models import Store, User
from scrm.scoping import Access

WHITESPACE = " \t\r\n\u00a0\u3000"
MESSAGE_VALUE_MAX = 60
# The longest cell any column takes: a tags or multi-choice cell names several items, so it may be
# longer than one value; a longer cell is refused as it is read, before any SQL sees it.
LONGEST_CELL = 4096
# What the rows of an import are marked with: the member's source, the tags' source, the owner
# relation's way of adding and the consent records' source.
IMPORT_SOURCE, IMPORT_TAG_SOURCE, IMPORT_ADD_WAY = Source.IMPORT, TagSource.IMPORT, AddWay.IMPORT
CONSENT_SOURCE = "import"
BRAND_WIDE = Access(all_stores=True, store_id=None)
REPORT_HEADER = ("row", "column", "value", "code", "params")  # a stored report; see members.io.reports
REPORT_ORDER = "row_no, col_no, err->>'code', value"
TEMP_TABLES = ("io_raw", "io_store", "io_staff", "io_rows", "io_phonefix", "io_ident", "io_match", "io_vocab",
               "io_tags", "io_err", "io_ok", "io_moved", "io_same", "io_consent", "io_consent_changed", "io_had")

logger = logging.getLogger(__name__)


def _mobile_pattern() -> str:
    import phonenumbers

    return phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern


def default_max_rows() -> int:
    return int(getattr(settings, "MEMBER_IMPORT_MAX_ROWS", 5_000_000))


def _identity_value(column) -> str:
    """SQL of an identity cell as stored: email addresses in lower case (as the API stores them)."""
    if column.channel == Channel.EMAIL:
        return f"lower(r.{column.sql_name})"
    return f"r.{column.sql_name}"


class ConcurrentChange(RuntimeError):
    """Someone else wrote an identity of this file between validation and writing."""


class FirstLoadRunning(RuntimeError):
    """A first load (members.io.first_load) holds the member tables: an import waits its turn."""


class OutOfTime(RuntimeError):
    """The import's time is used up before its next statement; args[0]: the seconds it had."""


@dataclass
class Outcome:
    rows: int = 0
    invalid: int = 0
    created: int = 0
    updated: int = 0
    tags_added: int = 0
    identities_added: int = 0
    consents_changed: int = 0
    errors: int = 0
    timings: dict = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return self.rows - self.invalid


def _lit(text: str) -> str:
    """A SQL string literal for text we wrote ourselves (never user input)."""
    return "'" + text.replace("'", "''") + "'"


def _trim(expr: str) -> str:
    return f"btrim({expr}, {_lit(WHITESPACE)})"


def _unquote(trimmed: str) -> str:
    """A trimmed cell as its value: empty as NULL, and the "'" our exports put before a leading
    = + - @ taken off again (so an exported file imports as it was)."""
    return (f"nullif(CASE WHEN left({trimmed}, 1) = '''' AND substr({trimmed}, 2, 1) IN ('=', '+', '-', '@') "
            f"THEN substr({trimmed}, 2) ELSE {trimmed} END, '')")


def _preview(expr: str) -> str:
    """SQL: a value as an error echoes it, scrm.files.preview's bound (PREVIEW_MAX characters and "…")."""
    return f"(SELECT CASE WHEN length(p) > {PREVIEW_MAX} THEN left(p, {PREVIEW_MAX}) || '…' ELSE p END " \
           f"FROM (SELECT ({expr})::text AS p) AS pv)"


def _date(expr: str) -> str:
    """A date written YYYY-MM-DD (or with / or .) as a date, NULL when it is not one."""
    normal = f"translate({expr}, '/.', '--')"
    return (f"CASE WHEN {expr} ~ '^\\d{{4}}[-/.]\\d{{1,2}}[-/.]\\d{{1,2}}$' AND pg_input_is_valid({normal}, 'date') "
            f"THEN {normal}::date END")


class _CopySource:
    """A file-like object psycopg2's copy_expert reads: the file's rows as COPY CSV, made on demand.
    Column x carries a row's structural problem (cells beyond the header) for the SQL report."""

    def __init__(self, rows, width: int, max_rows: int, messages: dict, longest: int = LONGEST_CELL) -> None:
        self._rows = iter(rows)
        self._longest = longest
        self._width = width
        self._max_rows = max_rows
        self._messages = messages
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._done = False
        self.count = 0
        self.error: Exception | None = None  # what stopped reading, re-raised once COPY gave up

    def _refuse_long(self, row: list[str]) -> list[dict]:
        """Cells longer than any column accepts, emptied: the row's error gives their length only."""
        problems = []
        for index, cell in enumerate(row[: self._width]):
            length = len(cell)  # a TooLong's length is the one it had in the file
            if length > self._longest:
                row[index] = ""
                problems.append({"code": "cell_too_long", "params": {
                    "column": str(index + 1), "length": f"{length:,}", "max": f"{self._longest:,}"}})
        return problems

    def _fit(self, row: list[str]) -> tuple[list[dict], list[str]]:
        if len(row) < self._width:
            return [], row + [""] * (self._width - len(row))
        extra = [cell for cell in row[self._width:] if cell and cell.strip()]
        problems = [{"code": "extra_cells", "params": {"column": str(self._width + 1)}}] if extra else []
        return problems, row[: self._width]

    def read(self, size: int = -1) -> str:
        try:
            return self._read(size)
        except Exception as exc:
            self.error = exc
            raise

    def _read(self, size: int) -> str:
        size = size if size and size > 0 else 1 << 20
        buffer, writerow, width = self._buffer, self._writer.writerow, self._width
        while buffer.tell() < size and not self._done:
            longest = self._longest
            for number, row in self._rows:
                if not any(row):
                    continue  # blank rows: spreadsheets leave them between blocks
                self.count += 1
                if self.count > self._max_rows:
                    raise FileError(self._messages["too_many_rows"], row=number)
                long_cells = self._refuse_long(row) if max(map(len, row)) > longest else []
                if len(row) == width and not long_cells:
                    writerow((number, "", *row))
                else:
                    problems, row = self._fit(row)
                    problems = long_cells + problems
                    writerow((number, json.dumps(problems) if problems else "", *row))
                if buffer.tell() >= size:
                    break
            else:
                self._done = True
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def messages() -> dict[str, str]:
    """What the reader of a file needs while it is read: the one message that stops the file."""
    return {
        "too_many_rows": _("The file has more than %(max)s rows; split it into smaller files.")
        % {"max": f"{default_max_rows():,}"},
    }


class Importer:
    """One import inside the caller's transaction: load(), validate(), then write() or not."""

    def __init__(self, *, layout: Layout, store_id: int | None, user_id: int | None,
                 deadline: float | None = None, max_rows: int | None = None) -> None:
        self.layout = layout
        self.max_rows = max_rows or default_max_rows()
        # write(bare=True): the tables have no unique index to ON CONFLICT against (a first load,
        # members.io.first_load); each statement leaves out, itself, the rows a conflict would skip.
        self.bare = False
        self.store_id = store_id
        self.user_id = user_id
        self.msg = messages()
        self.outcome = Outcome()
        self._params: dict = {}
        self.deadline = deadline  # time.monotonic() by which every statement must have ended
        self._budget = None if deadline is None else max(deadline - time.monotonic(), 0)

    def _bound(self, cursor) -> None:
        """Each statement may take only what is left of the import's time (SET LOCAL: for this
        transaction only), so a statement never outlives the attempt that sent it."""
        if self.deadline is not None and not jobs.bound_statements(ends=self.deadline, cursor=cursor):
            raise OutOfTime(round(self._budget))

    def lift_deadline(self) -> None:
        """Back to the server's statement timeout for what the caller's transaction does next."""
        if self.deadline is not None:
            self.deadline = None
            jobs.lift_statement_bound()

    # --- helpers ------------------------------------------------------------------------------

    def _param(self, value) -> str:
        name = f"p{len(self._params)}"
        self._params[name] = value
        return f"%({name})s"

    def _m(self, key: str, **subs) -> str:
        """SQL for error `key` as stored: {"code": key, "params": {name: value}}, each parameter an
        SQL expression (a cell's only as its preview). members.io.messages puts it into words."""
        pairs = []
        for name, expr in subs.items():
            text = _preview(expr) if name == "value" else f"({expr})"
            pairs.append(f"{_lit(name)}, {text}")
        params = f"jsonb_build_object({', '.join(pairs)})" if pairs else "'{}'::jsonb"
        return f"jsonb_build_object('code', {_lit(key)}, 'params', {params})"

    def _run(self, sql: str, params: dict | None = None) -> int:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            self._bound(cursor)
            cursor.execute(sql, params or None)
            rowcount = cursor.rowcount
        if logger.isEnabledFor(logging.DEBUG):
            first = next((line.strip() for line in sql.splitlines() if line.strip()), "")
            logger.debug("%.3f s, %s rows: %s", time.perf_counter() - started, rowcount, first[:100])
        return rowcount

    def _collected(self, sql: str) -> int:
        """Run `sql` with the parameters _param() collected for it."""
        params, self._params = self._params, {}
        return self._run(sql, params)

    def _emit(self, code: str, select: str) -> int:
        """Record one event per row of `select` (member_id, store_id, data), in one statement."""
        statement, params = events.insert_sql(code, select)
        with connection.cursor() as cursor:
            self._bound(cursor)
            cursor.execute(statement, params)
            return cursor.rowcount

    def _change_emitting(self, change_sql: str, code: str) -> int:
        """Run a change of member tags (RETURNING member_id, tag_id) and record `code` for each row it
        changed, in the same statement; returns how many rows changed."""
        ev, params = events.insert_sql(code, tag_services.tag_event_select("changed"))
        with connection.cursor() as cursor:
            self._bound(cursor)
            cursor.execute(f"WITH changed AS ({change_sql}), ev AS ({ev}) SELECT count(*) FROM changed", params)
            return cursor.fetchone()[0]

    def _scalar(self, sql: str, params=None):
        with connection.cursor() as cursor:
            self._bound(cursor)
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def _timed(self, phase: str, started: float) -> None:
        self.outcome.timings[phase] = round(self.outcome.timings.get(phase, 0) + time.perf_counter() - started, 3)

    def col(self, kind: str) -> Column | None:
        return self.layout.get(kind)

    def v(self, kind: str, alias: str = "") -> str:
        """The cleaned cell of field `kind`, or NULL when the file has no such column."""
        column = self.col(kind)
        if column is None:
            return "NULL::text"
        return f"{alias + '.' if alias else ''}{column.sql_name}"

    def _final(self) -> str:
        """io_rows with their matched member and the store each member ends up in, as table `f`.
        A new member goes to the row's store, else the importer's own store, else the owner's."""
        store = "NULL::bigint" if self.store_id is None else str(int(self.store_id))
        return f"""(SELECT r.*, m.held, m.first_id, m.last_id, m.match_col_no, m.match_col, m.match_value,
                           m.member_id, m.member_store_id, m.member_live,
                           (array_remove(s.first_rows, r.row_no))[1:5] AS same_rows,
                           coalesce(r.store_id, m.member_store_id, {store},
                                    CASE WHEN m.row_no IS NULL THEN r.owner_store_id END) AS final_store_id
                    FROM io_rows r LEFT JOIN io_match m ON m.row_no = r.row_no
                    LEFT JOIN io_same s ON s.member_id = m.member_id) AS f"""

    # --- 1. load ------------------------------------------------------------------------------

    @staticmethod
    def _memory() -> None:
        """Memory for this transaction's sorts and hashes (a million rows' duplicate check would
        spill to disk with the default), and room for the staging tables in memory."""
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            # A statement whose client went away (a killed worker) is stopped within seconds
            # instead of running to its end.
            cursor.execute("SET LOCAL client_connection_check_interval = '5s'")
        Importer._temp_buffers()

    @staticmethod
    def _temp_buffers() -> None:
        """Room for the staging tables in memory (the default 8 MB spills a 100k-row file to disk).
        PostgreSQL accepts it only before the session's first temporary table; later imports on the
        same connection keep the size they got, so a refusal is fine."""
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET temp_buffers = '256MB'")
        except DatabaseError:
            logger.debug("temp_buffers already fixed for this session")

    def load(self, rows) -> None:
        started = time.perf_counter()
        self._memory()
        cells = ", ".join(f"c{c.index} text" for c in self.layout.columns)
        self._run(f"""
            DROP TABLE IF EXISTS {", ".join("pg_temp." + t for t in TEMP_TABLES)};
            CREATE TEMP TABLE io_raw (row_no bigint, x text, {cells}) ON COMMIT DROP;
            CREATE TEMP TABLE io_err (row_no bigint, col_no int, col text, value text, err jsonb) ON COMMIT DROP;
        """)
        source = _CopySource(rows, len(self.layout.columns), self.max_rows, self.msg)
        names = ", ".join(f"c{c.index}" for c in self.layout.columns)
        try:
            with connection.cursor() as cursor:
                self._bound(cursor)
                cursor.cursor.copy_expert(f"COPY io_raw (row_no, x, {names}) FROM STDIN (FORMAT csv)", source, 1 << 20)
        except Exception:  # the raw psycopg2 cursor: its errors are not Django's
            if source.error is not None:  # psycopg2 reports our own exception as a cancelled COPY
                raise source.error from None
            raise
        self.outcome.rows = source.count
        self._timed("load", started)

    # --- 2. validate --------------------------------------------------------------------------

    def validate(self) -> None:
        started = time.perf_counter()
        self._typed_rows()
        self._check_phones_in_python()
        self._cell_errors()
        self._identities()
        self._match()
        self._row_errors()
        self._tags()
        self._count()
        self._timed("validate", started)

    def _attribute_expr(self, column: Column) -> str:
        d = column.attribute
        v = f"s.{column.sql_name}"
        kind = d.type
        if kind == AttributeType.TEXT:
            return (f"CASE WHEN length({v}) <= {TEXT_MAX} AND left({v}, 1) NOT IN ('=', '+', '-', '@') "
                    f"THEN to_jsonb({v}) END")
        if kind == AttributeType.NUMBER:
            return (f"CASE WHEN {v} ~ '^[-+]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][-+]?\\d{{1,3}})?$' "
                    f"THEN to_jsonb(trim_scale({v}::numeric)) END")
        if kind == AttributeType.DATE:
            return f"to_jsonb(to_char({_date(v)}, 'YYYY-MM-DD'))"
        if kind == AttributeType.MONTH:
            return (f"CASE WHEN {v} ~ '^\\d{{4}}[-/.](0?[1-9]|1[0-2])$' "
                    f"THEN to_jsonb(left({v}, 4) || '-' || lpad(substr({v}, 6), 2, '0')) END")
        if kind == AttributeType.BOOLEAN:
            return f"({self._param(json.dumps(BOOLEAN_WORDS, ensure_ascii=False))}::jsonb -> lower({v}))"
        choices = self._param(list(d.choices))
        if kind == AttributeType.CHOICE:
            return f"CASE WHEN {v} = ANY({choices}::text[]) THEN to_jsonb({v}) END"
        if kind == AttributeType.MULTI_CHOICE:
            # Every item must be a choice; stored in the definition's order, as the API stores it.
            return (f"(SELECT CASE WHEN bool_and(x = ANY({choices}::text[])) THEN to_jsonb(ARRAY("
                    f"SELECT c FROM unnest({choices}::text[]) WITH ORDINALITY AS u(c, o) "
                    f"WHERE c = ANY(array_agg(x)) ORDER BY o)) END "
                    f"FROM unnest(regexp_split_to_array({v}, '\\s*[;；,，|]\\s*')) AS x WHERE x <> '')")
        return "NULL::jsonb"

    def _stores_and_staff(self) -> None:
        """io_store and io_staff: every store and staff account by code or username (a spreadsheet's
        case does not matter), judged by the profile rules (profile.store_problem and
        profile.owner_problem), so the import and the API refuse the same stores and guides. A brand
        has a few thousand of each: judging them all costs the same whatever the file's size."""
        self._run("""
            CREATE TEMP TABLE io_store (key text PRIMARY KEY, id bigint, problem text) ON COMMIT DROP;
            CREATE TEMP TABLE io_staff (key text PRIMARY KEY, id bigint, store_id bigint, problem text)
                ON COMMIT DROP""")
        if self.col("home_store") is not None:
            access = Access(all_stores=self.store_id is None, store_id=self.store_id)
            stores = _first_by_key(Store.objects.annotate(key=Lower("code")).only("id", "code", "is_active"))
            rows = [(key, s.pk, profile.store_problem(s, access)) for key, s in stores.items()]
            self._insert_rows("io_store", ("text", "bigint", "text"), rows)
        if self.col("owner") is not None:
            staff = _first_by_key(User.objects.annotate(key=Lower("username"))
                                  .only("id", "username", "is_active", "role", "store_id"))
            # Judged brand-wide: a guide of another store is reported against the member's store
            # (owner_store), as resolve_store_and_owner does for a profile.
            rows = [(key, u.pk, u.store_id, profile.owner_problem(u, BRAND_WIDE)) for key, u in staff.items()]
            self._insert_rows("io_staff", ("text", "bigint", "bigint", "text"), rows)
        self._run("ANALYZE io_store; ANALYZE io_staff")

    def _insert_rows(self, table: str, types: tuple[str, ...], rows: list[tuple]) -> None:
        if rows:
            arrays = ", ".join(f"%s::{sql_type}[]" for sql_type in types)
            self._run(f"INSERT INTO {table} SELECT * FROM unnest({arrays})",
                      [list(column) for column in zip(*rows, strict=True)])

    def _typed_rows(self) -> None:
        self._stores_and_staff()
        # OFFSET 0 keeps each level a level of its own, so a trimmed cell is computed once, not
        # once per place the next level uses it.
        trimmed = ", ".join(f"{_trim('c' + str(c.index))} AS t{c.index}" for c in self.layout.columns)
        cleaned = ", ".join(f"{_unquote('t' + str(c.index))} AS {c.sql_name}" for c in self.layout.columns)
        digits = f"translate({self.v('phone', 's')}, ' ()-.', '')"
        attrs = "".join(f", {self._attribute_expr(c)} AS a{c.index}" for c in self.layout.attributes)
        if self.layout.consents:
            answers = self._param(json.dumps(CONSENT_VALUES, ensure_ascii=False))
            attrs += "".join(f", ({answers}::jsonb ->> lower(s.{c.sql_name}))::boolean AS k{c.index}"
                             for c in self.layout.consents)
        gender_map = self._param(json.dumps(gender_values(), ensure_ascii=False))
        source_map = self._param(json.dumps(source_values(), ensure_ascii=False))
        stage_map = self._param(json.dumps(stage_values(), ensure_ascii=False))
        # Chinese mobiles are checked here against libphonenumber's own pattern; anything else
        # (landlines, other countries, odd spellings) goes to normalize_phone in _check_phones_in_python.
        self._collected(f"""
            CREATE TEMP TABLE io_rows ON COMMIT DROP AS
            SELECT s.*,
                CASE WHEN {digits} ~ '^(\\+86|0086)?(?:{_mobile_pattern()})$' THEN '+86' || right({digits}, 11)
                END AS phone,
                {gender_map}::jsonb ->> lower({self.v('gender', 's')}) AS gender,
                {_date(self.v('birthday', 's'))} AS birthday,
                st.id AS store_id, st.problem AS store_problem,
                ow.id AS owner_id, ow.store_id AS owner_store_id, ow.problem AS owner_problem,
                {source_map}::jsonb ->> lower({self.v('source', 's')}) AS source,
                {stage_map}::jsonb ->> lower({self.v('stage', 's')}) AS stage
                {attrs}
            FROM (SELECT row_no, x, {cleaned} FROM (SELECT row_no, x, {trimmed} FROM io_raw OFFSET 0) AS t
                  OFFSET 0) AS s
            LEFT JOIN io_store st ON st.key = lower({self.v('home_store', 's')})
            LEFT JOIN io_staff ow ON ow.key = lower({self.v('owner', 's')})""")

    def _check_phones_in_python(self) -> None:
        """The profile's clean_phone() for the values the SQL fast path did not accept: few in a real file."""
        column = self.col("phone")
        if column is None:
            return
        started = time.perf_counter()
        # problem: why a value is refused (InvalidPhone.reason), so the report can say so.
        self._run("CREATE TEMP TABLE io_phonefix (raw text PRIMARY KEY, e164 text, problem text) ON COMMIT DROP")
        self._run("ALTER TABLE io_rows ADD COLUMN phone_problem text")
        found = False
        with connection.chunked_cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT {column.sql_name} FROM io_rows "
                           f"WHERE phone IS NULL AND {column.sql_name} IS NOT NULL")
            while batch := cursor.fetchmany(5000):
                raws, fixed, problems = [], [], []
                for (raw,) in batch:
                    try:
                        e164, problem = profile.clean_phone(raw), None
                    except InvalidPhone as exc:
                        if exc.reason == INVALID:
                            continue
                        e164, problem = None, exc.reason
                    except ValueError:
                        continue
                    raws.append(raw)
                    fixed.append(e164)
                    problems.append(problem)
                if raws:
                    found = True
                    self._run("INSERT INTO io_phonefix SELECT * FROM unnest(%(raws)s::text[], %(fixed)s::text[], "
                              "%(problems)s::text[])", {"raws": raws, "fixed": fixed, "problems": problems})
        if found:
            self._run(f"UPDATE io_rows r SET phone = f.e164, phone_problem = f.problem FROM io_phonefix f "
                      f"WHERE r.phone IS NULL AND r.{column.sql_name} = f.raw")
        self._timed("phones_in_python", started)

    def _insert_errors(self, table: str, entries, alias: str = "r") -> None:
        """One pass over `table`: the rows with any bad cell, unpivoted into io_err. Each entry is
        (column number, column SQL, value SQL, bad condition SQL, message SQL); a message is only
        built where its check fails (most rows of a real file have no error at all)."""
        values = ", ".join(f"({col_no}, {col}, {value}, CASE WHEN {bad} THEN {message} END)"
                           for col_no, col, value, bad, message in entries)
        any_bad = " OR ".join(f"coalesce({bad}, false)" for _no, _col, _value, bad, _message in entries)
        self._collected(f"""
            INSERT INTO io_err (row_no, col_no, col, value, err)
            SELECT {alias}.row_no, e.col_no, e.col, e.value, e.err
            FROM (SELECT * FROM {table} WHERE {any_bad}) AS {alias},
                 LATERAL (VALUES {values}) AS e(col_no, col, value, err)
            WHERE e.err IS NOT NULL""")

    def _cell_errors(self) -> None:
        """Every cell that is not a value of its column, in one pass over io_rows."""
        checks: list[tuple[Column, str, str]] = []  # (column, bad condition, message SQL)

        def formula(v):
            return f"left({v}, 1) IN ('=', '+', '-', '@')"

        def add(column, bad, key, **subs):
            checks.append((column, bad, self._m(key, value=column.sql_name, **subs)))

        def typed(column, bad, key, **subs):
            """A bad value that starts with = or @ is reported as a formula, others by their type."""
            v = column.sql_name
            checks.append((column, bad, f"CASE WHEN left({v}, 1) IN ('=', '@') THEN {self._m('formula', value=v)} "
                                        f"ELSE {self._m(key, value=v, **subs)} END"))

        if c := self.col("name"):
            add(c, formula(c.sql_name), "formula")
            add(c, f"length({c.sql_name}) > {NAME_MAX}", "too_long", max=str(NAME_MAX))
        if c := self.col("phone"):
            v = c.sql_name
            checks.append((c, f"{v} IS NOT NULL AND phone IS NULL",
                           f"CASE WHEN left({v}, 1) IN ('=', '@') THEN {self._m('formula', value=v)} "
                           f"WHEN phone_problem = {_lit(LETTERS)} THEN {self._m('phone_letters', value=v)} "
                           f"WHEN phone_problem = {_lit(SEVERAL)} THEN {self._m('phone_several', value=v)} "
                           f"ELSE {self._m('phone', value=v)} END"))
        if c := self.col("gender"):
            typed(c, f"{c.sql_name} IS NOT NULL AND gender IS NULL", "gender")
        if c := self.col("birthday"):
            typed(c, f"{c.sql_name} IS NOT NULL AND birthday IS NULL", "date")
            # profile.birthday_in_range, with the dashboard's today (not the database session's)
            first, today = self._param(BIRTHDAY_MIN), self._param(timezone.localdate())
            add(c, f"birthday < {first}::date OR birthday > {today}::date", "birthday_range")
        if c := self.col("home_store"):
            typed(c, f"{c.sql_name} IS NOT NULL AND store_id IS NULL", "store_unknown")
            add(c, f"store_problem = {_lit(profile.CLOSED)}", "store_closed")
            if self.store_id is not None:
                code = Store.objects.filter(pk=self.store_id).values_list("code", flat=True).first()
                add(c, f"store_problem = {_lit(profile.OTHER_STORE)}", "store_scope", store=self._param(code))
        if c := self.col("owner"):
            typed(c, f"{c.sql_name} IS NOT NULL AND owner_id IS NULL", "owner_unknown")
            add(c, f"owner_problem IN ({_lit(profile.INACTIVE)}, {_lit(profile.NOT_A_GUIDE)})", "owner_inactive")
        for kind, values in (("source", source_values()), ("stage", stage_values())):
            if c := self.col(kind):
                choices = ", ".join(sorted(set(values.values())))
                typed(c, f"{c.sql_name} IS NOT NULL AND {kind} IS NULL", "choice", choices=self._param(choices))
        for c in self.layout.attributes:
            d = c.attribute
            bad = f"{c.sql_name} IS NOT NULL AND a{c.index} IS NULL"
            if d.type == AttributeType.TEXT:
                add(c, formula(c.sql_name), "formula")
                add(c, f"length({c.sql_name}) > {TEXT_MAX}", "too_long", max=str(TEXT_MAX))
            elif d.type in (AttributeType.CHOICE, AttributeType.MULTI_CHOICE):
                typed(c, bad, "choice", choices=self._param(", ".join(d.choices)))
            else:
                key = {AttributeType.NUMBER: "number", AttributeType.DATE: "date", AttributeType.MONTH: "month",
                       AttributeType.BOOLEAN: "boolean"}[d.type]
                typed(c, bad, key)
        for c in self.layout.consents:
            typed(c, f"{c.sql_name} IS NOT NULL AND k{c.index} IS NULL", "consent_value")
        # A row's own problems (cells beyond the header, cells too long to read), found as it was read.
        self._run("""
            INSERT INTO io_err (row_no, col_no, col, value, err)
            SELECT r.row_no, 0, '', NULL, e.err FROM io_raw r, jsonb_array_elements(r.x::jsonb) AS e(err)
            WHERE r.x IS NOT NULL""")
        entries = [(c.index + 1, self._param(c.header), c.sql_name, bad, message) for c, bad, message in checks]
        if entries:
            self._insert_errors("io_rows", entries)

    def _identities(self) -> None:
        """io_ident: one row per identity cell. An id that cannot be stored is reported and takes
        no further part; the same id in two rows is an error on both, each naming the others."""
        parts = [f"({c.index + 1}, {self._param(c.header)}, {self._param(c.channel)}, {self._param(c.namespace)}, "
                 f"{_identity_value(c)})" for c in self.layout.identities]
        if c := self.col("phone"):
            parts.append(f"({c.index + 1}, {self._param(c.header)}, {_lit(Channel.PHONE)}, '', r.phone)")
        self._collected(f"""
            CREATE TEMP TABLE io_ident ON COMMIT DROP AS
            SELECT r.row_no, i.col_no, i.col, i.channel, i.namespace, i.external_id
            FROM io_rows r, LATERAL (VALUES {", ".join(parts)}) AS i(col_no, col, channel, namespace, external_id)
            WHERE i.external_id IS NOT NULL""")
        self._collected(f"""
            WITH bad AS (
                DELETE FROM io_ident WHERE channel <> {_lit(Channel.PHONE)}
                  AND (length(external_id) > {EXTERNAL_ID_MAX} OR left(external_id, 1) IN ('=', '+', '-', '@')
                       OR strpos(external_id, ';') > 0)
                RETURNING row_no, col_no, col, external_id)
            INSERT INTO io_err (row_no, col_no, col, value, err)
            SELECT row_no, col_no, col, external_id,
                   CASE WHEN left(external_id, 1) IN ('=', '+', '-', '@') THEN {self._m('formula', value='external_id')}
                        WHEN length(external_id) > {EXTERNAL_ID_MAX}
                        THEN {self._m('too_long', value='left(external_id, 40)', max=str(EXTERNAL_ID_MAX))}
                        ELSE {self._m('identity_several', value='left(external_id, 60)')} END
            FROM bad""")
        # A row's identities by column: member.joined names the row's first one (one probe per row).
        self._run("CREATE INDEX ON io_ident (row_no, col_no)")
        self._run("ANALYZE io_ident")  # the join with members_identity below needs real estimates
        # Each row names at most five others: a group keeps its first six rows (never the whole
        # list), so an id repeated on every row of the file costs the same per row as a pair.
        rows = ("array_to_string((array_remove(d.first_rows, i.row_no))[1:5], ', ') "
                "|| CASE WHEN d.n > 6 THEN ' …' ELSE '' END")
        self._collected(f"""
            INSERT INTO io_err (row_no, col_no, col, value, err)
            SELECT i.row_no, i.col_no, i.col, i.external_id, {self._m('duplicate', value='i.external_id', rows=rows)}
            FROM io_ident i
            JOIN (SELECT channel, namespace, external_id, count(*) AS n,
                         array_agg(row_no ORDER BY row_no) FILTER (WHERE rank <= 6) AS first_rows
                  FROM (SELECT channel, namespace, external_id, row_no,
                               row_number() OVER (PARTITION BY channel, namespace, external_id ORDER BY row_no) AS rank
                        FROM io_ident) AS ranked
                  GROUP BY 1, 2, 3 HAVING count(*) > 1) AS d
              ON d.channel = i.channel AND d.namespace = i.namespace AND d.external_id = i.external_id""")

    def _identity_columns(self) -> list[tuple[Column, str, str]]:
        """(column, channel, value SQL over io_rows r) of every identity the file gives, phone
        included, in column order. Ids that cannot be stored (reported already) match nothing."""
        found = []
        for c in self.layout.identities:
            value = (f"CASE WHEN length(r.{c.sql_name}) <= {EXTERNAL_ID_MAX} "
                     f"AND left(r.{c.sql_name}, 1) NOT IN ('=', '+', '-', '@') THEN {_identity_value(c)} END")
            found.append((c, c.channel, value))
        if c := self.col("phone"):
            found.append((c, "phone", "r.phone"))
        return sorted(found, key=lambda item: item[0].index)

    def _held_position(self, col_no: str) -> str:
        """SQL: the position in io_match.held of the identity in column `col_no`."""
        cases = " ".join(f"WHEN {c.index + 1} THEN {n}" for n, (c, _ch, _v) in enumerate(self._identity_columns(), 1))
        return f"CASE {col_no} {cases} END"

    def _match(self) -> None:
        """io_match: the rows whose ids someone holds today, looked up column by column (one
        index probe per id, no regrouping): first_id = last_id means one member, else several."""
        columns = self._identity_columns()
        joins, held, col_no, col, value = [], [], [], [], []
        for n, (c, channel, expr) in enumerate(columns):
            joins.append(f"LEFT JOIN {members_sql.IDENTITY} h{n} ON h{n}.channel = {self._param(channel)} "
                         f"AND h{n}.namespace = {self._param(c.namespace)} AND h{n}.external_id = {expr}")
            held.append(f"h{n}.member_id")
            col_no.append(f"WHEN h{n}.member_id IS NOT NULL THEN {c.index + 1}")
            col.append(f"WHEN h{n}.member_id IS NOT NULL THEN {self._param(c.header)}")
            value.append(f"WHEN h{n}.member_id IS NOT NULL THEN {expr}")
        self._collected(f"""
            CREATE TEMP TABLE io_match ON COMMIT DROP AS
            SELECT m.*, mm.id AS member_id, mm.home_store_id AS member_store_id,
                   ({members_sql.live('mm')}) AS member_live
            FROM (SELECT r.row_no, ARRAY[{", ".join(held)}]::bigint[] AS held,
                         least({", ".join(held)}) AS first_id, greatest({", ".join(held)}) AS last_id,
                         CASE {" ".join(col_no)} END AS match_col_no, CASE {" ".join(col)} END AS match_col,
                         CASE {" ".join(value)} END AS match_value
                  FROM io_rows r {" ".join(joins)}) AS m
            LEFT JOIN {members_sql.MEMBER} mm ON mm.id = m.first_id AND m.first_id = m.last_id
            WHERE m.first_id IS NOT NULL;
            CREATE UNIQUE INDEX ON io_match (row_no);
            ANALYZE io_match;
            CREATE TEMP TABLE io_same ON COMMIT DROP AS
            SELECT member_id, array_agg(row_no ORDER BY row_no) FILTER (WHERE rank <= 6) AS first_rows
            FROM (SELECT member_id, row_no, row_number() OVER (PARTITION BY member_id ORDER BY row_no) AS rank
                  FROM io_match WHERE member_id IS NOT NULL) AS ranked
            GROUP BY member_id HAVING count(*) > 1""")

    def _row_errors(self) -> None:
        """Errors that need the matched member: conflicts, scope, owner's store, consent, names."""
        checks = []
        identity_cells = [f"f.{c.sql_name}" for c in self.layout.identities]
        if self.col("phone"):
            identity_cells.append(f"f.{self.col('phone').sql_name}")
        any_identity = " OR ".join(f"{cell} IS NOT NULL" for cell in identity_cells) or "false"
        match = ("f.match_col_no", "f.match_col", "f.match_value")
        if self.store_id is not None:
            # Checked alone: a store-bound import learns nothing else about another store's member,
            # and its conflict messages name no member ids.
            store = int(self.store_id)
            elsewhere = (f"CASE WHEN f.first_id IS NULL THEN false "
                         f"WHEN f.first_id = f.last_id THEN f.member_store_id IS DISTINCT FROM {store} "
                         f"ELSE EXISTS (SELECT 1 FROM {members_sql.MEMBER} o WHERE o.id = ANY(f.held) "
                         f"AND o.home_store_id IS DISTINCT FROM {store}) END")
            checks.append((*match, elsewhere, self._m("other_store", value="f.match_value")))
            in_scope = f"NOT ({elsewhere})"
            conflict = self._m("conflict", members=self._param("…"))
        else:
            in_scope = "true"
            conflict = self._m("conflict", members="(SELECT string_agg(DISTINCT '#' || x, ', ') "
                                                   "FROM unnest(f.held) AS x)")
        checks.append((*match, f"f.first_id <> f.last_id AND {in_scope}", conflict))
        checks.append((*match, f"NOT f.member_live AND {in_scope}",
                       self._m("not_live", value="f.match_value", member="f.member_id")))
        checks.append((*match, f"f.same_rows IS NOT NULL AND {in_scope}",
                       self._m("same_member", member="f.member_id", rows="array_to_string(f.same_rows, ', ')")))
        name = self.col("name")
        checks.append((name.index + 1 if name else 0, self._param(name.header if name else ""), "NULL::text",
                       f"f.first_id IS NULL AND {self.v('name', 'f')} IS NULL AND ({any_identity})",
                       self._m("name_required")))
        checks.append((0, "''", "NULL::text", f"NOT ({any_identity})", self._m("no_identity")))
        if c := self.col("owner"):
            value = f"f.{c.sql_name}"
            checks.append((c.index + 1, self._param(c.header), value,
                           # profile.owner_store_mismatch
                           "f.owner_id IS NOT NULL AND f.owner_problem IS NULL "
                           "AND f.final_store_id <> f.owner_store_id",
                           self._m("owner_store", value=value,
                                   owner_store=f"(SELECT code FROM {scrm_sql.STORE} WHERE id = f.owner_store_id)",
                                   store=f"(SELECT code FROM {scrm_sql.STORE} WHERE id = f.final_store_id)")))
        for c in self.layout.attributes:
            needed = [str(purpose) for purpose in attributes.consents_needed(c.attribute)]
            if not needed:
                continue
            label = f"to_jsonb({self._param(needed)}::text[])"
            granted = (f"(SELECT count(*) FROM {members_sql.CONSENT} k WHERE k.member_id = f.member_id "
                       f"AND k.channel = '{ConsentChannel.ALL}' AND k.granted "
                       f"AND k.purpose = ANY({self._param(needed)}::text[])) = {len(needed)}")
            header, value = self._param(c.header), f"f.{c.sql_name}"
            checks.append((c.index + 1, header, value, f"f.a{c.index} IS NOT NULL AND f.first_id IS NULL",
                           self._m("consent_new", consent=label)))
            checks.append((c.index + 1, header, value,
                           f"f.a{c.index} IS NOT NULL AND f.member_id IS NOT NULL AND NOT {granted}",
                           self._m("consent", consent=label)))
        self._insert_errors(self._final(), checks, alias="f")

    def _tags(self) -> None:
        """io_tags: each distinct tags cell parsed once (a file repeats the same few combinations),
        one row per item, resolved to a tag. Rows reach their tags by joining on the cell's text."""
        column = self.col("tags")
        if column is None:
            return
        self._run(f"""
            CREATE TEMP TABLE io_vocab ON COMMIT DROP AS
            SELECT lower(g.name) AS gkey, lower(t.name) AS tkey, t.id, g.id AS group_id, g.name AS group_name,
                   NOT g.multiple AS single, t.rule IS NOT NULL AS is_rule,
                   count(*) OVER (PARTITION BY lower(t.name)) AS same_name
            FROM {members_sql.TAG} t JOIN {members_sql.TAG_GROUP} g ON g.id = t.group_id""")
        # "group:tag" (the group is what comes before the first colon) or a bare tag name when only
        # one group has a tag of that name.
        normal = "replace(x.item, '：', ':')"
        self._run(f"""
            CREATE TEMP TABLE io_tags ON COMMIT DROP AS
            SELECT i.cell, i.item, v.id AS tag_id, v.group_id, v.group_name, v.single, v.is_rule,
                   a.tkey IS NOT NULL AS ambiguous
            FROM (SELECT cell, item,
                         CASE WHEN p > 0 THEN lower({_trim('left(n, p - 1)')}) END AS gkey,
                         lower(CASE WHEN p > 0 THEN {_trim('substr(n, p + 1)')} ELSE n END) AS tkey
                  FROM (SELECT c.cell, x.item, {normal} AS n, strpos({normal}, ':') AS p
                        FROM (SELECT DISTINCT {column.sql_name} AS cell FROM io_rows
                              WHERE {column.sql_name} IS NOT NULL) AS c,
                             LATERAL unnest(string_to_array(replace(c.cell, '；', ';'), ';')) AS y(raw),
                             LATERAL (SELECT {_trim('y.raw')} AS item) AS x
                        WHERE x.item <> '' OFFSET 0) AS s) AS i
            LEFT JOIN io_vocab v ON v.tkey = i.tkey AND (v.gkey = i.gkey OR (i.gkey IS NULL AND v.same_name = 1))
            LEFT JOIN (SELECT DISTINCT tkey FROM io_vocab WHERE same_name > 1) AS a
              ON a.tkey = i.tkey AND i.gkey IS NULL;
            CREATE INDEX ON io_tags (cell);
            ANALYZE io_tags""")
        header = self._param(column.header)
        self._collected(f"""
            INSERT INTO io_err (row_no, col_no, col, value, err)
            SELECT r.row_no, {column.index + 1}, {header}, b.item, b.err
            FROM (SELECT cell, item,
                         CASE WHEN ambiguous THEN {self._m('tag_ambiguous', value='item')}
                              WHEN tag_id IS NULL AND left(item, 1) IN ('=', '+', '-', '@')
                                  THEN {self._m('formula', value='item')}
                              WHEN tag_id IS NULL THEN {self._m('tag_unknown', value='item')}
                              ELSE {self._m('tag_rule', value='item')} END AS err
                  FROM io_tags WHERE tag_id IS NULL OR is_rule
                  UNION ALL
                  SELECT cell, string_agg(item, ';' ORDER BY item), {self._m('tag_single', value='group_name')}
                  FROM io_tags WHERE single
                  GROUP BY cell, group_id, group_name HAVING count(DISTINCT tag_id) > 1) AS b
            JOIN io_rows r ON r.{column.sql_name} = b.cell""")

    def _count(self) -> None:
        # The report keeps each value as an error message echoes it, never a whole long cell.
        self._run(f"UPDATE io_err SET value = {_preview('value')} WHERE length(value) > {PREVIEW_MAX}")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), count(DISTINCT row_no) FROM io_err")
            self.outcome.errors, self.outcome.invalid = cursor.fetchone()
            cursor.execute("""
                SELECT count(*) FROM io_match m
                WHERE m.member_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM io_err e WHERE e.row_no = m.row_no)""")
            self.outcome.updated = cursor.fetchone()[0]
        self.outcome.created = self.outcome.valid - self.outcome.updated

    # --- 3. write -----------------------------------------------------------------------------

    def write(self, *, bare: bool = False) -> None:
        """Write the valid rows in one go per table. Counts come from what the statements did.
        `bare`: the tables' unique indexes are gone for the while (a first load); the same rows are
        written without ON CONFLICT, each statement leaving out what a conflict would have skipped
        (the indexes, rebuilt afterwards, check that nothing slipped through)."""
        started = time.perf_counter()
        self.bare = bare
        # Foreign keys checked at the end of each statement: far cheaper than a queue of millions of
        # deferred checks at COMMIT, and a bad reference fails here, inside the import.
        self._run("SET CONSTRAINTS ALL IMMEDIATE")
        self._rows_to_write()
        self._insert_members()
        self._update_members()
        self._insert_identities()
        if self.col("tags") is not None:
            self._write_tags()
        self._write_owners()
        if self.layout.consents:
            self._write_consents()
        self._timed("write", started)

    def _rows_to_write(self) -> None:
        """io_ok: the valid rows, each with its member id (new ones drawn from the sequence)."""
        attrs = "'{}'::jsonb"
        if self.layout.attributes:  # at most MAX_ATTRIBUTE_COLUMNS: within jsonb_build_object's 100 arguments
            pairs = ", ".join(f"{_lit(c.attribute.code)}, f.a{c.index}" for c in self.layout.attributes)
            none = " AND ".join(f"f.a{c.index} IS NULL" for c in self.layout.attributes)
            attrs = f"CASE WHEN {none} THEN {attrs} ELSE jsonb_strip_nulls(jsonb_build_object({pairs})) END"
        name = self.v("name", "f")
        self._run(f"""
            CREATE TEMP TABLE io_ok ON COMMIT DROP AS
            SELECT f.row_no, f.member_id,
                   coalesce(f.member_id, nextval(pg_get_serial_sequence('{members_sql.MEMBER}', 'id'))) AS mid,
                   {name} AS name, f.phone, f.gender, f.birthday, f.store_id, f.final_store_id, f.owner_id,
                   f.source, f.stage, {self.v("tags", "f")} AS tags, {attrs} AS attrs
            FROM {self._final()}
            WHERE NOT EXISTS (SELECT 1 FROM io_err e WHERE e.row_no = f.row_no)
            ORDER BY f.row_no;
            CREATE UNIQUE INDEX ON io_ok (row_no);
            ANALYZE io_ok""")

    def _insert_members(self) -> None:
        """New members; a field the file leaves empty gets the model's default (the source: this import)."""
        defaults = profile.DEFAULTS
        self.outcome.created = self._run(f"""
            INSERT INTO {members_sql.MEMBER} (id, name, phone, gender, birthday, home_store_id, owner_id, source, stage,
                                        attributes, created_at, updated_at)
            SELECT o.mid, coalesce(o.name, ''), coalesce(o.phone, ''), coalesce(o.gender, {_lit(defaults["gender"])}),
                   o.birthday, o.final_store_id, o.owner_id, coalesce(o.source, {_lit(IMPORT_SOURCE)}),
                   coalesce(o.stage, {_lit(defaults["stage"])}), o.attrs, now(), now()
            FROM io_ok o WHERE o.member_id IS NULL ORDER BY o.mid""")
        # member.joined (members.services.upsert.joined_data): the source and the first identity's channel.
        self._emit(JOINED, f"""
            SELECT o.mid, o.final_store_id, jsonb_build_object(
                'source', coalesce(o.source, {_lit(IMPORT_SOURCE)}),
                'channel', coalesce((SELECT i.channel FROM io_ident i WHERE i.row_no = o.row_no
                                     ORDER BY i.col_no LIMIT 1), ''))
            FROM io_ok o WHERE o.member_id IS NULL ORDER BY o.mid""")

    def _update_members(self) -> None:
        """Existing members, locked in id order first (two writers that share members wait for each
        other instead of deadlocking). io_moved keeps the members who lose their guide."""
        # Empty cells leave a value as it is. A member moved to another store without a new owner
        # loses the old store's guide, as a profile edit does.
        owner = ("CASE WHEN o.owner_id IS NOT NULL THEN o.owner_id "
                 "WHEN o.store_id IS DISTINCT FROM m.home_store_id AND o.store_id IS NOT NULL THEN NULL "
                 "ELSE m.owner_id END")
        new = (f"coalesce(o.name, m.name), coalesce(o.phone, m.phone), coalesce(o.gender, m.gender), "
               f"coalesce(o.birthday, m.birthday), coalesce(o.store_id, m.home_store_id), {owner}, "
               f"coalesce(o.source, m.source), coalesce(o.stage, m.stage), m.attributes || o.attrs")
        moved = "SELECT NULL::bigint AS id WHERE false"
        if self.col("home_store") is not None:
            moved = f"""SELECT m.id FROM {members_sql.MEMBER} m JOIN io_ok o ON o.member_id = m.id
                       WHERE o.owner_id IS NULL AND o.store_id IS DISTINCT FROM m.home_store_id
                         AND o.store_id IS NOT NULL AND m.owner_id IS NOT NULL"""
        self._run(f"""
            SELECT count(*) FROM (SELECT 1 FROM {members_sql.MEMBER} m
                                  WHERE m.id IN (SELECT member_id FROM io_ok WHERE member_id IS NOT NULL)
                                  ORDER BY m.id FOR UPDATE) AS locked;
            CREATE TEMP TABLE io_moved ON COMMIT DROP AS {moved};
            UPDATE {members_sql.MEMBER} m SET (name, phone, gender, birthday, home_store_id, owner_id, source, stage,
                                         attributes, updated_at) = ({new}, now())
            FROM io_ok o
            WHERE m.id = o.member_id
              AND ({new}) IS DISTINCT FROM
                  (m.name, m.phone, m.gender, m.birthday, m.home_store_id, m.owner_id, m.source, m.stage,
                   m.attributes)""")
        self.outcome.updated = self._scalar("SELECT count(*) FROM io_ok WHERE member_id IS NOT NULL")

    def _insert_identities(self) -> None:
        """The ids nobody held at validation; one taken meanwhile stops the import (ConcurrentChange)."""
        new_ids = (f"FROM io_ident i JOIN io_ok o USING (row_no) LEFT JOIN io_match m USING (row_no) "
                   f"WHERE m.held[{self._held_position('i.col_no')}] IS NULL")
        expected = self._scalar(f"SELECT count(*) {new_ids}")
        added = self._run(f"""
            INSERT INTO {members_sql.IDENTITY} (member_id, channel, namespace, external_id, created_at)
            SELECT o.mid, i.channel, i.namespace, i.external_id, now() {new_ids}
            ORDER BY i.channel, i.namespace, i.external_id
            {"" if self.bare else "ON CONFLICT (channel, namespace, external_id) DO NOTHING"}""")
        if added != expected:
            raise ConcurrentChange("concurrent")
        self.outcome.identities_added = added

    def _write_tags(self) -> None:
        """The tags cells, with the rule of members.services.tags: a single-choice group keeps one
        tag, so the imported one replaces the member's other one (rule tags are never touched)."""
        user = "NULL" if self.user_id is None else str(int(self.user_id))
        # Each tag added or replaced is a member.tag_added / member.tag_removed, in the same statement.
        self._change_emitting(f"""
            DELETE FROM {members_sql.MEMBER_TAG} mt
            USING io_ok o, io_tags t, {members_sql.TAG} old
            WHERE o.member_id IS NOT NULL AND t.cell = o.tags AND t.single AND mt.member_id = o.mid
              AND old.id = mt.tag_id AND old.group_id = t.group_id AND mt.tag_id <> t.tag_id
              AND old.rule IS NULL
            RETURNING mt.member_id, mt.tag_id""", tag_services.TAG_REMOVED)
        named = "SELECT o.mid, t.tag_id FROM io_ok o JOIN io_tags t ON t.cell = o.tags"
        conflict, skip = "ON CONFLICT (member_id, tag_id) DO NOTHING", ""
        if self.bare:  # what ON CONFLICT skips: a tag named twice in a cell, a tag the member has
            named, conflict = named.replace("SELECT", "SELECT DISTINCT", 1), ""
            # Only members already in the pool can have tags: theirs are looked up in a copy taken
            # first (probing the table itself would read every row this statement adds, again per row).
            self._run(f"""CREATE TEMP TABLE io_had ON COMMIT DROP AS
                          SELECT mt.member_id, mt.tag_id FROM {members_sql.MEMBER_TAG} mt
                          WHERE mt.member_id IN (SELECT member_id FROM io_ok WHERE member_id IS NOT NULL);
                          ANALYZE io_had""")
            skip = "WHERE NOT EXISTS (SELECT 1 FROM io_had h WHERE h.member_id = x.mid AND h.tag_id = x.tag_id)"
        self.outcome.tags_added = self._change_emitting(f"""
            INSERT INTO {members_sql.MEMBER_TAG} (member_id, tag_id, source, added_by_id, added_at)
            SELECT x.mid, x.tag_id, {_lit(IMPORT_TAG_SOURCE)}, {user}::bigint, now()
            FROM ({named}) AS x {skip}
            ORDER BY 1, 2
            {conflict}
            RETURNING member_id, tag_id""", tag_services.TAG_ADDED)  # a tag named twice in a cell is added once

    def _write_owners(self) -> None:
        """Member.owner mirrors the owner relation: the imported owner becomes the one owner, and a
        member who moved store without one keeps no owner relation (relations.sync_owners' rule)."""
        self._run(f"""
            UPDATE {members_sql.STAFF_RELATION} r SET is_owner = false
            FROM io_ok o
            WHERE r.member_id = o.mid AND r.is_owner AND o.owner_id IS NOT NULL AND r.staff_id <> o.owner_id;
            UPDATE {members_sql.STAFF_RELATION} r SET is_owner = false
            FROM io_moved v WHERE r.member_id = v.id AND r.is_owner;
            {self._owner_relations()}""")

    def _owner_relations(self) -> str:
        """The imported owner as an owner relation: a new one, or the existing relation made the owner."""
        insert = f"""
            INSERT INTO {members_sql.STAFF_RELATION} (member_id, staff_id, store_id, add_way, state, remark,
                                                     description, is_owner, added_at)
            SELECT o.mid, o.owner_id, o.final_store_id, {_lit(IMPORT_ADD_WAY)}, '', '', '', true, now()
            FROM io_ok o WHERE o.owner_id IS NOT NULL"""
        if not self.bare:
            return f"""{insert}
            ORDER BY o.mid
            ON CONFLICT (member_id, staff_id) DO UPDATE SET is_owner = true
            WHERE NOT {members_sql.STAFF_RELATION}.is_owner"""
        return f"""
            UPDATE {members_sql.STAFF_RELATION} r SET is_owner = true
            FROM io_ok o WHERE r.member_id = o.mid AND r.staff_id = o.owner_id AND NOT r.is_owner;
            {insert}
              -- a hashed subplan, read once before the first row is added (an anti-join probe
              -- per row would read again every row the statement adds)
              AND (o.member_id IS NULL OR (o.member_id, o.owner_id) NOT IN (
                       SELECT member_id, staff_id FROM {members_sql.STAFF_RELATION}))
            ORDER BY o.mid"""

    def _write_consents(self) -> None:
        """Consent cells through the consent model, set-based, with the rules of
        members.services.consent.set_consent: an answer that changes something updates Consent and
        appends a ConsentRecord (source "import") and one MemberEvent per member; withdrawing on
        every channel also withdraws that purpose's channel grants (unless the row names them)."""
        values = ", ".join(f"({_lit(c.purpose)}, {_lit(c.channel)}, r.k{c.index})" for c in self.layout.consents)
        user = "NULL" if self.user_id is None else str(int(self.user_id))
        every, source, kind = _lit(ConsentChannel.ALL), _lit(CONSENT_SOURCE), _lit(MemberEvent.Kind.CONSENT)
        # consent.withdraws_channel_grants: a withdrawal on every channel withdraws the channel grants.
        self._run(f"""
            CREATE TEMP TABLE io_consent ON COMMIT DROP AS
            SELECT o.mid AS member_id, c.purpose, c.channel, c.granted
            FROM io_ok o JOIN io_rows r USING (row_no),
                 LATERAL (VALUES {values}) AS c(purpose, channel, granted)
            WHERE c.granted IS NOT NULL;
            INSERT INTO io_consent (member_id, purpose, channel, granted)
            SELECT k.member_id, k.purpose, k.channel, false
            FROM io_consent w JOIN {members_sql.CONSENT} k
              ON k.member_id = w.member_id AND k.purpose = w.purpose AND k.channel <> {every} AND k.granted
            WHERE w.channel = {every} AND NOT w.granted
              AND NOT EXISTS (SELECT 1 FROM io_consent x WHERE x.member_id = k.member_id
                              AND x.purpose = k.purpose AND x.channel = k.channel);
            CREATE TEMP TABLE io_consent_changed ON COMMIT DROP AS
            SELECT c.* FROM io_consent c
            LEFT JOIN {members_sql.CONSENT} k
              ON k.member_id = c.member_id AND k.purpose = c.purpose AND k.channel = c.channel
            WHERE k.id IS NULL OR k.granted <> c.granted""")
        self.outcome.consents_changed = self._run(f"""
            INSERT INTO {members_sql.CONSENT_RECORD} (member_id, purpose, channel, granted, source, evidence,
                                               recorded_by_id, recorded_by_label, recorded_at)
            SELECT member_id, purpose, channel, granted, {source}, '', {user}::bigint, '', now()
            FROM io_consent_changed ORDER BY member_id, purpose, channel""")
        upsert = f"""
            INSERT INTO {members_sql.CONSENT} (member_id, purpose, channel, granted, updated_at)
            SELECT member_id, purpose, channel, granted, now() FROM io_consent_changed
            ORDER BY member_id, purpose, channel
            ON CONFLICT (member_id, purpose, channel) DO UPDATE
            SET granted = EXCLUDED.granted, updated_at = EXCLUDED.updated_at;"""
        if self.bare:
            upsert = f"""
            UPDATE {members_sql.CONSENT} k SET granted = c.granted, updated_at = now()
            FROM io_consent_changed c
            WHERE k.member_id = c.member_id AND k.purpose = c.purpose AND k.channel = c.channel;
            INSERT INTO {members_sql.CONSENT} (member_id, purpose, channel, granted, updated_at)
            SELECT c.member_id, c.purpose, c.channel, c.granted, now() FROM io_consent_changed c
            WHERE (c.member_id, c.purpose, c.channel) NOT IN (  -- hashed, read once (see _owner_relations)
                SELECT member_id, purpose, channel FROM {members_sql.CONSENT})
            ORDER BY c.member_id, c.purpose, c.channel;"""
        self._run(f"""{upsert}
            INSERT INTO {members_sql.MEMBER_EVENT} (member_id, kind, data, actor_id, actor_label, created_at)
            SELECT member_id, {kind},
                   jsonb_build_object('source', {source}, 'changed', jsonb_agg(jsonb_build_object(
                       'purpose', purpose, 'channel', channel, 'granted', granted) ORDER BY purpose, channel)),
                   {user}::bigint, '', now()
            FROM io_consent_changed GROUP BY member_id ORDER BY member_id""")
        self._emit(CONSENT_CHANGED, f"""
            SELECT c.member_id, m.home_store_id,
                   jsonb_build_object('channel', c.channel, 'purpose', c.purpose, 'granted', c.granted)
            FROM io_consent_changed c JOIN {members_sql.MEMBER} m ON m.id = c.member_id
            ORDER BY c.member_id, c.purpose, c.channel""")

    def estimate_tags(self) -> int:
        """For a dry run: how many tags would be added."""
        if self.col("tags") is None:
            return 0
        cell = self.col("tags").sql_name
        return self._scalar(f"""
            SELECT count(*) FROM (
                SELECT DISTINCT r.row_no, t.tag_id
                FROM io_rows r JOIN io_tags t ON t.cell = r.{cell} LEFT JOIN io_match m ON m.row_no = r.row_no
                WHERE t.tag_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM io_err e WHERE e.row_no = r.row_no)
                  AND NOT EXISTS (SELECT 1 FROM {members_sql.MEMBER_TAG} mt
                                  WHERE mt.member_id = m.member_id AND mt.tag_id = t.tag_id)) AS x""")

    def estimate_identities(self) -> int:
        return self._scalar(f"""
            SELECT count(*) FROM io_ident i LEFT JOIN io_match m USING (row_no)
            WHERE m.held[{self._held_position('i.col_no')}] IS NULL
              AND NOT EXISTS (SELECT 1 FROM io_err e WHERE e.row_no = i.row_no)""")

    # --- 4. report ----------------------------------------------------------------------------

    def rows_with(self, code: str) -> int:
        """How many rows have an error of `code` (each row once)."""
        return self._scalar("SELECT count(DISTINCT row_no) FROM io_err WHERE err->>'code' = %s", [code])

    def first_errors(self, n: int) -> list[dict]:
        """The first `n` errors as stored on the job: a code and its parameters, never a text in
        one language (members.io.messages words them for each reader)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT row_no, col_no, col, value, err->>'code', err->'params' FROM io_err "
                           f"ORDER BY {REPORT_ORDER} LIMIT %s", [n])
            return [{"row": row, "column": col, "column_number": number or None, "value": _short(value),
                     "code": code, "params": _params(params)}
                    for row, number, col, value, code, params in cursor.fetchall()]

    def report_csv(self, target) -> None:
        """The whole report as stored, worded for each reader as it is downloaded
        (members.io.reports): CSV of row, column, value, code and parameters (JSON), under a header
        naming those five, into the binary file `target`."""
        target.write((",".join(REPORT_HEADER) + "\n").encode())
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY (SELECT row_no, col, value, err->>'code', err->'params' FROM io_err ORDER BY {REPORT_ORDER}) "
                "TO STDOUT (FORMAT csv)",
                target,
            )


def _first_by_key(queryset) -> dict:
    """key -> the first row (by id) of an annotated `key`: two stores whose codes differ only in case
    are one code to a spreadsheet, and the older one wins."""
    found: dict = {}
    for row in queryset.order_by("id"):
        found.setdefault(row.key, row)
    return found


def _params(params) -> dict:
    if isinstance(params, str):
        return json.loads(params)
    return params or {}


def _short(value):
    if value is None:
        return None
    return value if len(value) <= MESSAGE_VALUE_MAX else value[: MESSAGE_VALUE_MAX - 1] + "…"

