"""Recalculations at once (threads, each on its own connection) record each move once, and a run
that waits past its statement timeout fails cleanly, recorded with its error."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from koc.models import BenefitGrant, LevelChange, TierRun
from koc.services import levels, rights, tiers
from tests.koc.tiers.conftest import add_posts


@pytest.mark.django_db(transaction=True)
def test_concurrent_recalculations_record_each_move_once(ladder, make_creator, members, alice):
    rights.save_benefit(actor=alice, level_id=ladder[0].pk, kind="sample", name="Samples")
    creators = [make_creator(m) for m in (*members[0], *members[1])]
    for creator in creators:
        add_posts(creator, 12, interactions=1000, viral=True)
    barrier = threading.Barrier(4)
    errors = []

    def run():
        try:
            barrier.wait()
            tiers.recalculate(period_end=False)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert LevelChange.objects.count() == 5
    assert BenefitGrant.objects.filter(revoked_at__isnull=True).count() == 5
    runs = list(TierRun.objects.order_by("finished_at"))
    assert len(runs) == 4 and sum(r.promoted for r in runs) == 5 and runs[0].promoted == 5


@pytest.mark.django_db(transaction=True)
def test_a_run_held_up_past_its_statement_timeout_fails_and_is_recorded(ladder, make_creator, settings):
    make_creator()
    settings.KOC_TIER_STATEMENT_TIMEOUT_MS = 300
    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [levels.LOCK_KEY])  # a ladder edit in progress
            with pytest.raises(Exception, match="statement timeout"):
                tiers.recalculate(period_end=False)
            cursor.execute("ROLLBACK")
    finally:
        holder.close()
    run = TierRun.objects.get()
    assert "statement timeout" in run.error and run.finished_at is not None
    assert not LevelChange.objects.exists()
    with transaction.atomic():
        assert tiers.recalculate(period_end=False).error == ""
