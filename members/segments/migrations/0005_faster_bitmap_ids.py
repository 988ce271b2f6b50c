"""member_segments_ids reads a chunk's bitmap as text once: get_bit and substring on a compressed
varbit unpack the whole value on each call, so decoding a full chunk took about 0.4 s (a snapshot of
a million members about 6.5 s, most of a campaign's fan-out). Now a dense chunk is split into its
characters in one pass and a sparse one (2,048 members or fewer) still skips its empty 64-bit words;
16 chunks (1M ids) decode in about 0.7 s, sparse ones in a few milliseconds."""

from django.db import migrations

FASTER = r"""
CREATE OR REPLACE FUNCTION member_segments_ids(chunk integer, bits varbit) RETURNS SETOF bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF bit_count(bits) > 2048 THEN
        RETURN QUERY SELECT (chunk::bigint << 16) + (t.o - 1)
        FROM unnest(string_to_array(bits::text, NULL)) WITH ORDINALITY AS t(ch, o) WHERE t.ch = '1';
    ELSE
        RETURN QUERY SELECT (chunk::bigint << 16) + w * 64 + (t.o - 1)
        FROM generate_series(0, 1023) AS w,
             LATERAL (SELECT substring(bits FROM w * 64 + 1 FOR 64) AS word) AS ww,
             LATERAL unnest(string_to_array(ww.word::text, NULL)) WITH ORDINALITY AS t(ch, o)
        WHERE ww.word <> B'0000000000000000000000000000000000000000000000000000000000000000' AND t.ch = '1';
    END IF;
END
$$;
"""

PREVIOUS = r"""
CREATE OR REPLACE FUNCTION member_segments_ids(chunk integer, bits varbit) RETURNS SETOF bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (chunk::bigint << 16) + p
    FROM generate_series(0, 1023) AS w,
         LATERAL (SELECT substring(bits FROM w * 64 + 1 FOR 64) AS word) AS ww,
         LATERAL generate_series(w * 64, w * 64 + 63) AS p
    WHERE ww.word <> B'0000000000000000000000000000000000000000000000000000000000000000' AND get_bit(bits, p) = 1
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("member_segments", "0004_drop_redundant_indexes")]

    operations = [migrations.RunSQL(FASTER, PREVIOUS)]
