"""Turns a parsed definition into SQL: a per-chunk bitmap expression over the index when every
condition has a bitmap form, and a boolean over the member row otherwise (or when rows are needed).

Both forms answer the same question and tests hold them equal. Bitmap expressions evaluate per chunk
`c` of the "live" dimension: NOT is a complement (~x), the final result is AND-ed with the live chunk,
so "none of" means live members without the tags.
"""

from __future__ import annotations

from members import sql as members_sql
from members.segments.definition import All, Condition, Not
from members.segments.index import TABLE

ZERO = "member_segments_zero()"


def is_bitmap(tree) -> bool:
    """True when every condition of the tree can be answered from the bitmap index."""
    if isinstance(tree, Condition):
        return tree.filter.bitmap is not None and tree.filter.bitmap(tree.leaf) is not None
    if isinstance(tree, Not):
        return is_bitmap(tree.child)
    return all(is_bitmap(child) for child in tree.children)


def bitmap_sql(tree, c: str = "c") -> tuple[str, list]:
    """A varbit expression: the members of the tree within chunk `c.chunk`, not yet cut to live."""
    if isinstance(tree, Condition):
        bits = tree.filter.bitmap(tree.leaf)
        keys = list(bits.keys)
        if bits.match == "all" and len(keys) > 1:
            sql = (f"coalesce((SELECT CASE WHEN count(*) = %s THEN bit_and(b.bits) END FROM {TABLE} b "
                   f"WHERE b.dimension = %s AND b.key = ANY({bits.key_sql}) AND b.chunk = {c}.chunk), {ZERO})")
            params = [len(keys), bits.dimension, keys]
        else:
            sql = (f"coalesce((SELECT bit_or(b.bits) FROM {TABLE} b WHERE b.dimension = %s "
                   f"AND b.key = ANY({bits.key_sql}) AND b.chunk = {c}.chunk), {ZERO})")
            params = [bits.dimension, keys]
        return (f"(~{sql})" if bits.negate else sql), params
    if isinstance(tree, Not):
        sql, params = bitmap_sql(tree.child, c)
        return f"(~{sql})", params
    if not tree.children:
        return (f"(~{ZERO})" if isinstance(tree, All) else ZERO), []
    parts, params = [], []
    for child in tree.children:
        sql, child_params = bitmap_sql(child, c)
        parts.append(sql)
        params += child_params
    joiner = " & " if isinstance(tree, All) else " | "
    return "(" + joiner.join(parts) + ")", params


def where_sql(tree, m: str = "m") -> tuple[str, list]:
    """A boolean over the member row alias `m` (never NULL)."""
    if isinstance(tree, Condition):
        sql, params = tree.filter.compile_sql(tree.leaf, m)
        return f"coalesce(({sql}), false)", list(params)
    if isinstance(tree, Not):
        sql, params = where_sql(tree.child, m)
        return f"(NOT {sql})", params
    if not tree.children:
        return ("true" if isinstance(tree, All) else "false"), []
    parts, params = [], []
    for child in tree.children:
        sql, child_params = where_sql(child, m)
        parts.append(sql)
        params += child_params
    joiner = " AND " if isinstance(tree, All) else " OR "
    return "(" + joiner.join(parts) + ")", params


def chunks_sql(tree, store_id: int | None) -> tuple[str, list]:
    """SELECT chunk, bits: the members of the tree per chunk, live and (if given) of one store."""
    expr, params = bitmap_sql(tree, "c")
    if store_id is None:
        return (f"SELECT c.chunk, c.bits & {expr} AS bits FROM {TABLE} c WHERE c.dimension = 'live' AND c.key = 0",
                params)
    return (
        f"SELECT c.chunk, c.bits & s.bits & {expr} AS bits FROM {TABLE} c "
        f"JOIN {TABLE} s ON s.dimension = 'store' AND s.key = %s AND s.chunk = c.chunk "
        "WHERE c.dimension = 'live' AND c.key = 0",
        [*params, store_id],
    )


def rows_sql(tree, store_id: int | None, m: str = "m") -> tuple[str, list]:
    """A WHERE clause over members_member `m`: live, of the store (if given) and matching the tree."""
    where, params = where_sql(tree, m)
    sql = f"{members_sql.live(m)} AND {where}"
    if store_id is not None:
        sql = f"{m}.home_store_id = %s AND {sql}"
        params = [store_id, *params]
    return sql, params
