"""The exact bitmap index of members (table member_segments_memberbitmap) and the triggers that
keep it current.

Why triggers: members and their tags are written by the API, the dashboard, imports through COPY,
merges and rule refreshes. Statement-level AFTER triggers with transition tables see every one of
them, and apply a whole statement's rows at once: rows are grouped by (dimension, key, chunk), each
group turned into one 65,536-bit bitmap (`bitmaps_sql`) and OR-ed into (or AND NOT-ed out
of) the stored chunk with one INSERT ... ON CONFLICT / UPDATE. A COPY of a million rows costs a few
hundred grouped upserts, not a million.

Other apps may keep their own dimensions in the same table (e.g. "tier", "community") with their
own triggers calling `member_segments_apply(dimension, keys, member_ids, add)`, and contribute a
filter whose `bitmap` hook names that dimension (see registry.Bits).
"""

from __future__ import annotations

from django.db import connection, transaction

from members import sql as members_sql
from members.segments.models import CHUNK_BITS, MemberBitmap

TABLE = MemberBitmap._meta.db_table
MEMBER_DIMENSIONS = ("live", "store", "owner", "stage")

# The per-dimension keys of a members_member row `r`; NULL means "not in this dimension".
_MEMBER_KEYS = {
    "live": f"CASE WHEN {members_sql.live('r')} THEN 0::bigint END",
    "store": "coalesce(r.home_store_id, 0)::bigint",
    "owner": "coalesce(r.owner_id, 0)::bigint",
    "stage": "hashtext(r.stage)::bigint",
}


def _member_rows(source: str) -> str:
    """(dimension, key, id) for every dimension of every row of `source` (a table of members)."""
    parts = [
        f"SELECT '{dim}'::text AS dimension, {expr} AS key, r.id FROM {source} r" for dim, expr in _MEMBER_KEYS.items()
    ]
    return " UNION ALL ".join(parts)


def bitmaps_sql(rows_sql: str) -> str:
    """SELECT dimension, key, chunk, bits: the (dimension, key, id) rows of `rows_sql` folded into one
    bitmap per chunk. Set-based and linear: ids are OR-ed into 64-bit words, and each chunk's words,
    with runs of zero words between them, are spelled as one hex literal cast to varbit (building bit
    strings character by character or with set_bit is an order of magnitude slower)."""
    zeros = "member_segments_zero_hex()"
    return f"""
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr({zeros}, 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr({zeros}, 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM ({rows_sql}) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3"""


def _upsert(rows_sql: str) -> str:
    """Set the bits of (dimension, key, id) rows: one grouped upsert."""
    return f"""
        INSERT INTO {TABLE} AS b (dimension, key, chunk, bits)
        SELECT dimension, key, chunk, bits FROM ({bitmaps_sql(rows_sql)}) AS n ORDER BY 1, 2, 3
        ON CONFLICT (dimension, key, chunk) DO UPDATE SET bits = b.bits | excluded.bits;"""


def _clear(rows_sql: str) -> str:
    """Clear the bits of (dimension, key, id) rows."""
    return f"""
        UPDATE {TABLE} AS b SET bits = b.bits & ~d.bits
        FROM ({bitmaps_sql(rows_sql)}) AS d
        WHERE b.dimension = d.dimension AND b.key = d.key AND b.chunk = d.chunk;"""


def _member_changes(side: str) -> str:
    """(dimension, key, id) rows an UPDATE takes members out of (side "o") or puts them into ("n"):
    one join of the transition tables, unpivoted per dimension; unchanged dimensions drop out."""
    values = ", ".join(
        f"('{dim}', {expr.replace('r.', 'o.')}, {expr.replace('r.', 'n.')})" for dim, expr in _MEMBER_KEYS.items()
    )
    key = "v.old_key" if side == "o" else "v.new_key"
    return (
        f"SELECT v.dimension, {key} AS key, n.id FROM old_rows o JOIN new_rows n ON n.id = o.id, "
        f"LATERAL (VALUES {values}) AS v(dimension, old_key, new_key) WHERE v.old_key IS DISTINCT FROM v.new_key"
    )


def _function(name: str, body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
{body}
    RETURN NULL;
END
$fn$;"""


ZERO = f"repeat('0', {CHUNK_BITS})::varbit"
_POSITIONS_BITMAP = bitmaps_sql(
    "SELECT 'x'::text AS dimension, 0::bigint AS key, p::bigint AS id FROM unnest(pos) AS p"
)

FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION member_segments_zero_hex() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT repeat('0', {CHUNK_BITS // 4}) $$;

CREATE OR REPLACE FUNCTION member_segments_zero() RETURNS varbit
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {ZERO} $$;

-- A {CHUNK_BITS}-bit bitmap with the given positions (0..{CHUNK_BITS - 1}) set; duplicates and any order allowed.
CREATE OR REPLACE FUNCTION member_segments_bits(pos integer[]) RETURNS varbit
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT b.bits FROM ({_POSITIONS_BITMAP}) AS b), member_segments_zero())
$$;

-- The member ids of one chunk's bitmap, in ascending order.
CREATE OR REPLACE FUNCTION member_segments_ids(chunk integer, bits varbit) RETURNS SETOF bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (chunk::bigint << 16) + p
    FROM generate_series(0, {CHUNK_BITS // 64 - 1}) AS w,
         LATERAL (SELECT substring(bits FROM w * 64 + 1 FOR 64) AS word) AS ww,
         LATERAL generate_series(w * 64, w * 64 + 63) AS p
    WHERE ww.word <> B'{'0' * 64}' AND get_bit(bits, p) = 1
$$;

-- For other apps' triggers: add (or remove) members to keys of their own dimension.
CREATE OR REPLACE FUNCTION member_segments_apply(dim text, keys bigint[], member_ids bigint[], add boolean)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF add THEN
        {_upsert("SELECT dim AS dimension, k AS key, i AS id FROM unnest(keys, member_ids) AS u(k, i)")}
    ELSE
        {_clear("SELECT dim AS dimension, k AS key, i AS id FROM unnest(keys, member_ids) AS u(k, i)")}
    END IF;
END
$fn$;
"""

TAG_ROWS_NEW = "SELECT 'tag'::text AS dimension, tag_id::bigint AS key, member_id AS id FROM new_rows"
TAG_ROWS_OLD = "SELECT 'tag'::text AS dimension, tag_id::bigint AS key, member_id AS id FROM old_rows"

TRIGGER_FUNCTIONS_SQL = (
    _function("member_segments_tag_insert", _upsert(TAG_ROWS_NEW))
    + _function("member_segments_tag_delete", _clear(TAG_ROWS_OLD))
    + _function("member_segments_tag_update", _clear(TAG_ROWS_OLD) + _upsert(TAG_ROWS_NEW))
    + _function("member_segments_tag_truncate", f"DELETE FROM {TABLE} WHERE dimension = 'tag';")
    + _function("member_segments_member_insert", _upsert(_member_rows("new_rows")))
    + _function("member_segments_member_delete", _clear(_member_rows("old_rows")))
    + _function("member_segments_member_update", _clear(_member_changes("o")) + _upsert(_member_changes("n")))
    + _function(
        "member_segments_member_truncate",
        f"DELETE FROM {TABLE} WHERE dimension IN ({', '.join(repr(d) for d in MEMBER_DIMENSIONS)});",
    )
)

CREATE_TRIGGERS_SQL = (
    f"""
CREATE TRIGGER member_segments_tag_insert AFTER INSERT ON {members_sql.MEMBER_TAG}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION member_segments_tag_insert();
CREATE TRIGGER member_segments_tag_delete AFTER DELETE ON {members_sql.MEMBER_TAG}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION member_segments_tag_delete();
CREATE TRIGGER member_segments_tag_update AFTER UPDATE ON {members_sql.MEMBER_TAG}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_segments_tag_update();
CREATE TRIGGER member_segments_tag_truncate AFTER TRUNCATE ON {members_sql.MEMBER_TAG}
    FOR EACH STATEMENT EXECUTE FUNCTION member_segments_tag_truncate();
CREATE TRIGGER member_segments_member_insert AFTER INSERT ON {members_sql.MEMBER}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION member_segments_member_insert();
CREATE TRIGGER member_segments_member_delete AFTER DELETE ON {members_sql.MEMBER}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION member_segments_member_delete();
CREATE TRIGGER member_segments_member_update AFTER UPDATE ON {members_sql.MEMBER}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_segments_member_update();
CREATE TRIGGER member_segments_member_truncate AFTER TRUNCATE ON {members_sql.MEMBER}
    FOR EACH STATEMENT EXECUTE FUNCTION member_segments_member_truncate();
"""
)

TRIGGERS_SQL = FUNCTIONS_SQL + TRIGGER_FUNCTIONS_SQL + CREATE_TRIGGERS_SQL

TRIGGER_NAMES = {
    members_sql.MEMBER_TAG: ["member_segments_tag_insert", "member_segments_tag_delete", "member_segments_tag_update",
                          "member_segments_tag_truncate"],
    members_sql.MEMBER: ["member_segments_member_insert", "member_segments_member_delete",
                       "member_segments_member_update", "member_segments_member_truncate"],
}

DROP_SQL = "\n".join(
    f"DROP TRIGGER IF EXISTS {name} ON {table};" for table, names in TRIGGER_NAMES.items() for name in names
) + "\n" + "\n".join(
    f"DROP FUNCTION IF EXISTS {name}();" for names in TRIGGER_NAMES.values() for name in names
) + """
DROP FUNCTION IF EXISTS member_segments_apply(text, bigint[], bigint[], boolean);
DROP FUNCTION IF EXISTS member_segments_ids(integer, varbit);
DROP FUNCTION IF EXISTS member_segments_zero();
DROP FUNCTION IF EXISTS member_segments_zero_hex();
DROP FUNCTION IF EXISTS member_segments_bits(integer[]);
"""

# Everything the triggers maintain, computed from the tables themselves.
_FRESH_SQL = bitmaps_sql(f"""{_member_rows(members_sql.MEMBER)}
          UNION ALL
          SELECT 'tag'::text, tag_id::bigint, member_id FROM {members_sql.MEMBER_TAG}""")


def rebuild() -> int:
    """Recompute the members' dimensions of the index from the tables, set-based, while writers to
    members and tags wait (SHARE lock). Returns the number of chunks written."""
    dims = ", ".join(f"'{d}'" for d in (*MEMBER_DIMENSIONS, "tag"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {members_sql.MEMBER}, {members_sql.MEMBER_TAG} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {TABLE} WHERE dimension IN ({dims})")
        cursor.execute(f"INSERT INTO {TABLE} (dimension, key, chunk, bits) {_FRESH_SQL}")
        return cursor.rowcount


def differences(limit: int = 20) -> list[tuple[str, int, int, int, int]]:
    """Chunks where the index differs from the tables: (dimension, key, chunk, stored bits set,
    actual bits set). Empty when the index is exact. Used by tests and `rebuild_index --check`."""
    dims = ", ".join(f"'{d}'" for d in (*MEMBER_DIMENSIONS, "tag"))
    with connection.cursor() as cursor:  # one statement: one snapshot of both sides
        cursor.execute(
            f"""
            SELECT coalesce(s.dimension, f.dimension), coalesce(s.key, f.key), coalesce(s.chunk, f.chunk),
                   coalesce(bit_count(s.bits), 0), coalesce(bit_count(f.bits), 0)
            FROM (SELECT * FROM {TABLE} WHERE dimension IN ({dims})) AS s
            FULL JOIN ({_FRESH_SQL}) AS f ON f.dimension = s.dimension AND f.key = s.key AND f.chunk = s.chunk
            WHERE coalesce(s.bits, member_segments_zero()) <> coalesce(f.bits, member_segments_zero())
            ORDER BY 1, 2, 3 LIMIT %s""",
            [limit],
        )
        return cursor.fetchall()

