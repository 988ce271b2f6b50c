"""A fan-out planned right after a big member import, before autovacuum analysed the member tables,
analyses them itself (their statistics still those of the empty tables, a plan made on them loops
over every row: tests/campaigns/test_respect_mixed.py's 100,000-member send never finished in four
minutes that way), and leaves tables alone whose statistics are current."""

from __future__ import annotations

import pytest

from campaigns.models import Delivery
from campaigns.services import fanout
from tests.campaigns import load

pytestmark = pytest.mark.django_db(transaction=True)

IMPORTED = 12_000  # above fanout.STALE_ROWS


def stale_statistics() -> None:
    """The member tables as a big import leaves them: analysed while empty, autovacuum not yet come
    (kept away here, until stale_statistics_undone)."""
    for table in fanout.MEMBER_TABLES:
        load.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    load.execute(f"ANALYZE {', '.join(fanout.MEMBER_TABLES)}")


@pytest.fixture
def no_autovacuum():
    yield stale_statistics
    for table in fanout.MEMBER_TABLES:
        load.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


def statistics(table: str) -> tuple[float, int]:
    """(the planner's row count, analyses so far) of a table."""
    return tuple(load.execute(
        "SELECT c.reltuples, s.analyze_count FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.oid = %s::regclass", [table])[0])


def wait_for_counters(table: str, rows: int) -> None:
    """The import's row counts reach the statistics views once its connection reports them (at most
    a second after its transactions, while idle)."""
    from tests.helpers import wait_for

    def reported():
        load.execute("SELECT pg_stat_clear_snapshot()")
        return load.execute("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = %s::regclass",
                            [table])[0][0] >= rows

    assert wait_for(reported, timeout=10)


def test_a_fan_out_after_a_big_import_analyses_the_member_tables_first(no_autovacuum, make_campaign):
    no_autovacuum()
    assert statistics("members_member")[0] == 0
    load.seed_members(IMPORTED, store_ids=load.stores(2))
    wait_for_counters("members_member", IMPORTED)
    _tuples, analysed = statistics("members_member")
    campaign = make_campaign()
    assert Delivery.objects.filter(campaign=campaign).count() == IMPORTED
    tuples, analysed_after = statistics("members_member")
    assert analysed_after == analysed + 1 and tuples == IMPORTED
    consent_tuples, _n = statistics("members_consent")
    assert consent_tuples > IMPORTED * 0.9  # 2% have no answer


def test_current_statistics_are_not_analysed_again(no_autovacuum, make_campaign):
    no_autovacuum()
    load.seed_members(IMPORTED, store_ids=load.stores(2))
    load.execute(f"ANALYZE {', '.join(fanout.MEMBER_TABLES)}")
    before = {table: statistics(table)[1] for table in fanout.MEMBER_TABLES}
    make_campaign()
    assert {table: statistics(table)[1] for table in fanout.MEMBER_TABLES} == before
