"""Functions and triggers that keep the member bitmap index exact, then a first full build.

The SQL is frozen here as this migration runs it, so a later change to members/segments/index.py
cannot change what this migration did; such a change needs its own migration (the functions are
CREATE OR REPLACE, the triggers are dropped and created again)."""

from django.db import migrations

# The index's helper functions and the trigger functions (the same as 0003 re-creates).
FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION member_segments_zero_hex() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT repeat('0', 16384) $$;

CREATE OR REPLACE FUNCTION member_segments_zero() RETURNS varbit
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT repeat('0', 65536)::varbit $$;

-- A 65536-bit bitmap with the given positions (0..65535) set; duplicates and any order allowed.
CREATE OR REPLACE FUNCTION member_segments_bits(pos integer[]) RETURNS varbit
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT b.bits FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT 'x'::text AS dimension, 0::bigint AS key, p::bigint AS id FROM unnest(pos) AS p) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS b), member_segments_zero())
$$;

-- The member ids of one chunk's bitmap, in ascending order.
CREATE OR REPLACE FUNCTION member_segments_ids(chunk integer, bits varbit) RETURNS SETOF bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (chunk::bigint << 16) + p
    FROM generate_series(0, 1023) AS w,
         LATERAL (SELECT substring(bits FROM w * 64 + 1 FOR 64) AS word) AS ww,
         LATERAL generate_series(w * 64, w * 64 + 63) AS p
    WHERE ww.word <> B'0000000000000000000000000000000000000000000000000000000000000000' AND get_bit(bits, p) = 1
$$;

-- For other apps' triggers: add (or remove) members to keys of their own dimension.
CREATE OR REPLACE FUNCTION member_segments_apply(dim text, keys bigint[], member_ids bigint[], add boolean)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF add THEN
        
        INSERT INTO member_segments_memberbitmap AS b (dimension, key, chunk, bits)
        SELECT dimension, key, chunk, bits FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT dim AS dimension, k AS key, i AS id FROM unnest(keys, member_ids) AS u(k, i)) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS n ORDER BY 1, 2, 3
        ON CONFLICT (dimension, key, chunk) DO UPDATE SET bits = b.bits | excluded.bits;
    ELSE
        
        UPDATE member_segments_memberbitmap AS b SET bits = b.bits & ~d.bits
        FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT dim AS dimension, k AS key, i AS id FROM unnest(keys, member_ids) AS u(k, i)) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS d
        WHERE b.dimension = d.dimension AND b.key = d.key AND b.chunk = d.chunk;
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION member_segments_tag_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN

        INSERT INTO member_segments_memberbitmap AS b (dimension, key, chunk, bits)
        SELECT dimension, key, chunk, bits FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT 'tag'::text AS dimension, tag_id::bigint AS key, member_id AS id FROM new_rows) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS n ORDER BY 1, 2, 3
        ON CONFLICT (dimension, key, chunk) DO UPDATE SET bits = b.bits | excluded.bits;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION member_segments_tag_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN

        UPDATE member_segments_memberbitmap AS b SET bits = b.bits & ~d.bits
        FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT 'tag'::text AS dimension, tag_id::bigint AS key, member_id AS id FROM old_rows) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS d
        WHERE b.dimension = d.dimension AND b.key = d.key AND b.chunk = d.chunk;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION member_segments_tag_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN

        UPDATE member_segments_memberbitmap AS b SET bits = b.bits & ~d.bits
        FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT 'tag'::text AS dimension, tag_id::bigint AS key, member_id AS id FROM old_rows) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS d
        WHERE b.dimension = d.dimension AND b.key = d.key AND b.chunk = d.chunk;
        INSERT INTO member_segments_memberbitmap AS b (dimension, key, chunk, bits)
        SELECT dimension, key, chunk, bits FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT 'tag'::text AS dimension, tag_id::bigint AS key, member_id AS id FROM new_rows) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS n ORDER BY 1, 2, 3
        ON CONFLICT (dimension, key, chunk) DO UPDATE SET bits = b.bits | excluded.bits;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION member_segments_tag_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
DELETE FROM member_segments_memberbitmap WHERE dimension = 'tag';
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION member_segments_member_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN

        INSERT INTO member_segments_memberbitmap AS b (dimension, key, chunk, bits)
        SELECT dimension, key, chunk, bits FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT 'live'::text AS dimension, CASE WHEN r.merged_into_id IS NULL AND r.erased_at IS NULL THEN 0::bigint END AS key, r.id FROM new_rows r UNION ALL SELECT 'store'::text AS dimension, coalesce(r.home_store_id, 0)::bigint AS key, r.id FROM new_rows r UNION ALL SELECT 'owner'::text AS dimension, coalesce(r.owner_id, 0)::bigint AS key, r.id FROM new_rows r UNION ALL SELECT 'stage'::text AS dimension, hashtext(r.stage)::bigint AS key, r.id FROM new_rows r) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS n ORDER BY 1, 2, 3
        ON CONFLICT (dimension, key, chunk) DO UPDATE SET bits = b.bits | excluded.bits;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION member_segments_member_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN

        UPDATE member_segments_memberbitmap AS b SET bits = b.bits & ~d.bits
        FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT 'live'::text AS dimension, CASE WHEN r.merged_into_id IS NULL AND r.erased_at IS NULL THEN 0::bigint END AS key, r.id FROM old_rows r UNION ALL SELECT 'store'::text AS dimension, coalesce(r.home_store_id, 0)::bigint AS key, r.id FROM old_rows r UNION ALL SELECT 'owner'::text AS dimension, coalesce(r.owner_id, 0)::bigint AS key, r.id FROM old_rows r UNION ALL SELECT 'stage'::text AS dimension, hashtext(r.stage)::bigint AS key, r.id FROM old_rows r) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS d
        WHERE b.dimension = d.dimension AND b.key = d.key AND b.chunk = d.chunk;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION member_segments_member_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN

        UPDATE member_segments_memberbitmap AS b SET bits = b.bits & ~d.bits
        FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT v.dimension, v.old_key AS key, n.id FROM old_rows o JOIN new_rows n ON n.id = o.id, LATERAL (VALUES ('live', CASE WHEN o.merged_into_id IS NULL AND o.erased_at IS NULL THEN 0::bigint END, CASE WHEN n.merged_into_id IS NULL AND n.erased_at IS NULL THEN 0::bigint END), ('store', coalesce(o.home_store_id, 0)::bigint, coalesce(n.home_store_id, 0)::bigint), ('owner', coalesce(o.owner_id, 0)::bigint, coalesce(n.owner_id, 0)::bigint), ('stage', hashtext(o.stage)::bigint, hashtext(n.stage)::bigint)) AS v(dimension, old_key, new_key) WHERE v.old_key IS DISTINCT FROM v.new_key) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS d
        WHERE b.dimension = d.dimension AND b.key = d.key AND b.chunk = d.chunk;
        INSERT INTO member_segments_memberbitmap AS b (dimension, key, chunk, bits)
        SELECT dimension, key, chunk, bits FROM (
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT v.dimension, v.new_key AS key, n.id FROM old_rows o JOIN new_rows n ON n.id = o.id, LATERAL (VALUES ('live', CASE WHEN o.merged_into_id IS NULL AND o.erased_at IS NULL THEN 0::bigint END, CASE WHEN n.merged_into_id IS NULL AND n.erased_at IS NULL THEN 0::bigint END), ('store', coalesce(o.home_store_id, 0)::bigint, coalesce(n.home_store_id, 0)::bigint), ('owner', coalesce(o.owner_id, 0)::bigint, coalesce(n.owner_id, 0)::bigint), ('stage', hashtext(o.stage)::bigint, hashtext(n.stage)::bigint)) AS v(dimension, old_key, new_key) WHERE v.old_key IS DISTINCT FROM v.new_key) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3) AS n ORDER BY 1, 2, 3
        ON CONFLICT (dimension, key, chunk) DO UPDATE SET bits = b.bits | excluded.bits;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION member_segments_member_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
DELETE FROM member_segments_memberbitmap WHERE dimension IN ('live', 'store', 'owner', 'stage');
    RETURN NULL;
END
$fn$;"""

CREATE_TRIGGERS_SQL = """
CREATE TRIGGER member_segments_tag_insert AFTER INSERT ON members_membertag
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION member_segments_tag_insert();
CREATE TRIGGER member_segments_tag_delete AFTER DELETE ON members_membertag
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION member_segments_tag_delete();
CREATE TRIGGER member_segments_tag_update AFTER UPDATE ON members_membertag
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_segments_tag_update();
CREATE TRIGGER member_segments_tag_truncate AFTER TRUNCATE ON members_membertag
    FOR EACH STATEMENT EXECUTE FUNCTION member_segments_tag_truncate();
CREATE TRIGGER member_segments_member_insert AFTER INSERT ON members_member
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION member_segments_member_insert();
CREATE TRIGGER member_segments_member_delete AFTER DELETE ON members_member
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION member_segments_member_delete();
CREATE TRIGGER member_segments_member_update AFTER UPDATE ON members_member
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION member_segments_member_update();
CREATE TRIGGER member_segments_member_truncate AFTER TRUNCATE ON members_member
    FOR EACH STATEMENT EXECUTE FUNCTION member_segments_member_truncate();
"""

DROP_SQL = """DROP TRIGGER IF EXISTS member_segments_tag_insert ON members_membertag;
DROP TRIGGER IF EXISTS member_segments_tag_delete ON members_membertag;
DROP TRIGGER IF EXISTS member_segments_tag_update ON members_membertag;
DROP TRIGGER IF EXISTS member_segments_tag_truncate ON members_membertag;
DROP TRIGGER IF EXISTS member_segments_member_insert ON members_member;
DROP TRIGGER IF EXISTS member_segments_member_delete ON members_member;
DROP TRIGGER IF EXISTS member_segments_member_update ON members_member;
DROP TRIGGER IF EXISTS member_segments_member_truncate ON members_member;
DROP FUNCTION IF EXISTS member_segments_tag_insert();
DROP FUNCTION IF EXISTS member_segments_tag_delete();
DROP FUNCTION IF EXISTS member_segments_tag_update();
DROP FUNCTION IF EXISTS member_segments_tag_truncate();
DROP FUNCTION IF EXISTS member_segments_member_insert();
DROP FUNCTION IF EXISTS member_segments_member_delete();
DROP FUNCTION IF EXISTS member_segments_member_update();
DROP FUNCTION IF EXISTS member_segments_member_truncate();
DROP FUNCTION IF EXISTS member_segments_apply(text, bigint[], bigint[], boolean);
DROP FUNCTION IF EXISTS member_segments_ids(integer, varbit);
DROP FUNCTION IF EXISTS member_segments_zero();
DROP FUNCTION IF EXISTS member_segments_zero_hex();
DROP FUNCTION IF EXISTS member_segments_bits(integer[]);
"""

# Everything the triggers maintain, computed from the tables themselves.
BUILD_SQL = """INSERT INTO member_segments_memberbitmap (dimension, key, chunk, bits) 
        SELECT dimension, key, chunk,
               ('x' || string_agg(substr(member_segments_zero_hex(), 1, 16 * (w - prev - 1)) || lpad(to_hex(v), 16, '0'), ''
                                  ORDER BY w)
                    || substr(member_segments_zero_hex(), 1, 16 * (1023 - max(w))))::varbit AS bits
        FROM (SELECT dimension, key, chunk, w, v,
                     coalesce(lag(w) OVER (PARTITION BY dimension, key, chunk ORDER BY w), -1) AS prev
              FROM (SELECT dimension, key, (id >> 16)::int AS chunk, ((id & 65535) >> 6)::int AS w,
                           bit_or(1::bigint << (63 - (id & 63))::int) AS v
                    FROM (SELECT 'live'::text AS dimension, CASE WHEN r.merged_into_id IS NULL AND r.erased_at IS NULL THEN 0::bigint END AS key, r.id FROM members_member r UNION ALL SELECT 'store'::text AS dimension, coalesce(r.home_store_id, 0)::bigint AS key, r.id FROM members_member r UNION ALL SELECT 'owner'::text AS dimension, coalesce(r.owner_id, 0)::bigint AS key, r.id FROM members_member r UNION ALL SELECT 'stage'::text AS dimension, hashtext(r.stage)::bigint AS key, r.id FROM members_member r
          UNION ALL
          SELECT 'tag'::text, tag_id::bigint, member_id FROM members_membertag) AS r WHERE key IS NOT NULL GROUP BY 1, 2, 3, 4) AS words) AS gaps
        GROUP BY 1, 2, 3"""


def build(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BUILD_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("member_segments", "0001_initial"),
        ("members", "0002_member_centre"),
    ]

    operations = [
        migrations.RunSQL(FUNCTIONS_SQL + CREATE_TRIGGERS_SQL, DROP_SQL),
        migrations.RunPython(build, migrations.RunPython.noop),
    ]
