"""member_segments_ids, which every set-based reader of a bitmap goes through (a campaign's fan-out,
exports, samples): the ids of a chunk's set bits, for a dense chunk (read as text in one pass) and a
sparse one (empty 64-bit words skipped), at the chunk's edges too."""

from __future__ import annotations

import random

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

CHUNK_BITS = 65536


def _ids(chunk: int, positions: set[int]) -> list[int]:
    text = "".join("1" if p in positions else "0" for p in range(CHUNK_BITS))
    with connection.cursor() as cursor:
        cursor.execute("SELECT member_segments_ids(%s, %s::varbit)", [chunk, text])
        return sorted(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("count", [0, 1, 2, 2048, 2049, 40_000, CHUNK_BITS])
def test_every_set_bit_and_no_other_becomes_its_member_id(count):
    rng = random.Random(count)
    positions = set(rng.sample(range(CHUNK_BITS), count))
    if 2 <= count < CHUNK_BITS:
        positions = set(list(positions)[: count - 2]) | {0, CHUNK_BITS - 1}  # both edges of the chunk
    chunk = 7
    assert _ids(chunk, positions) == sorted((chunk << 16) + p for p in positions)
