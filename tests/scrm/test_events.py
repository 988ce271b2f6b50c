"""The event log's kernel (scrm.events): emit, emit_many and emit_sql write in the caller's
transaction (a rollback leaves no event), unknown types and oversized data are refused, insert_sql
puts a change and its events in one statement, scrub_member blanks the personal keys of a member's
events only, prune deletes old relayed events in batches."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.utils import timezone

from scrm import events
from scrm.models import Event

pytestmark = pytest.mark.django_db

CODE, PERSONAL = "test.happened", "test.personal"


@pytest.fixture(autouse=True)
def kinds():
    events.register_type(CODE, "happened", resource="members")
    events.register_type(PERSONAL, "with a channel id", resource="members", personal=("external_id", "nick"))
    yield
    events._TYPES.pop(CODE, None)
    events._TYPES.pop(PERSONAL, None)


def rows():
    return [(e.type, e.member_id, e.store_id, e.data, e.relayed) for e in Event.objects.order_by("id")]


def test_emit_writes_one_event_with_its_ids_and_data(store_a):
    at = timezone.now() - dt.timedelta(minutes=3)
    events.emit(CODE, member_id=5, store_id=store_a.pk, data={"tag": {"id": 3}}, at=at)
    assert rows() == [(CODE, 5, store_a.pk, {"tag": {"id": 3}}, False)]
    assert Event.objects.get().occurred_at == at


def test_emit_many_is_one_insert_in_order(store_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert events.emit_many(CODE, [(i, store_a.pk if i % 2 else None, {"n": i}) for i in range(1, 501)]) == 500
    found = rows()
    assert [m for _t, m, _s, _d, _r in found] == list(range(1, 501))  # ids follow the rows' order
    assert found[1][2] is None and found[0][2] == store_a.pk
    assert events.emit_many(CODE, []) == 0


def test_emit_sql_records_one_event_per_row(store_a):
    written = events.emit_sql(
        CODE, "SELECT g, %s::bigint, jsonb_build_object('n', g) FROM generate_series(1, %s) AS g ORDER BY g",
        [store_a.pk, 3])
    assert written == 3
    assert rows() == [(CODE, n, store_a.pk, {"n": n}, False) for n in (1, 2, 3)]


def test_insert_sql_puts_a_change_and_its_events_in_one_statement(store_a):
    events.emit_many(CODE, [(1, None, {}), (2, None, {})])
    statement, params = events.insert_sql(PERSONAL, "SELECT member_id, %s::bigint, '{}'::jsonb FROM gone")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {events.EVENT} WHERE type = %s RETURNING member_id), ev AS ({statement}) "
            "SELECT count(*) FROM gone", [CODE, *params, store_a.pk])
        assert cursor.fetchone()[0] == 2
    assert sorted((t, m) for t, m, _s, _d, _r in rows()) == [(PERSONAL, 1), (PERSONAL, 2)]
    named, named_params = events.insert_sql(CODE, "SELECT 7, NULL::bigint, '{}'::jsonb", named=True)
    with connection.cursor() as cursor:
        cursor.execute(named, named_params)
    assert rows()[-1][:2] == (CODE, 7)


def test_unknown_types_are_refused_and_nothing_is_written():
    for call in (lambda: events.emit("no.such", member_id=1),
                 lambda: events.emit_many("no.such", [(1, None, {})]),
                 lambda: events.emit_sql("no.such", "SELECT 1, NULL::bigint, '{}'::jsonb"),
                 lambda: events.insert_sql("no.such", "SELECT 1")):
        with pytest.raises(ValueError, match="unknown event type 'no.such'"):
            call()
    assert rows() == []


def test_a_type_cannot_move_to_another_resource():
    with pytest.raises(ValueError, match="already registered for members"):
        events.register_type(CODE, "happened", resource="orders")


def test_oversized_data_is_refused_naming_the_type_and_the_batch_writes_nothing():
    with pytest.raises(ValueError, match=f"event '{CODE}': data over {events.MAX_DATA_BYTES} bytes"):
        events.emit_many(CODE, [(1, None, {"ok": 1}), (2, None, {"text": "x" * events.MAX_DATA_BYTES})])
    assert rows() == []


def test_a_rollback_leaves_no_event():
    with pytest.raises(RuntimeError), transaction.atomic():
        events.emit(CODE, member_id=1)
        events.emit_sql(CODE, "SELECT 2, NULL::bigint, '{}'::jsonb")
        raise RuntimeError("the change failed")
    assert rows() == []


def test_scrub_member_blanks_only_the_personal_keys_of_that_members_events():
    events.emit(PERSONAL, member_id=1, data={"external_id": "wm1", "nick": "小芳", "tag": {"id": 3}})
    events.emit(PERSONAL, member_id=2, data={"external_id": "wm2"})
    events.emit(CODE, member_id=1, data={"external_id": "kept: not personal for this type"})
    assert events.scrub_member(1) == 1
    assert [d for _t, _m, _s, d, _r in rows()] == [
        {"tag": {"id": 3}}, {"external_id": "wm2"}, {"external_id": "kept: not personal for this type"}]
    assert events.scrub_member(1) == 0  # idempotent


def test_prune_deletes_relayed_events_past_retention_in_batches(settings):
    settings.SIYU_EVENT_RETENTION_DAYS = 30
    now = timezone.now()
    old = now - dt.timedelta(days=31)
    events.emit_many(CODE, [(i, None, {}) for i in range(5)], at=old)
    events.emit(CODE, member_id=9, at=old)  # not yet handed to the subscriptions: kept
    events.emit(CODE, member_id=10, at=now - dt.timedelta(days=29))
    Event.objects.exclude(member_id=9).update(relayed=True)
    assert events.prune(now=now, batch=3) == 3
    assert events.prune(now=now, batch=3) == 2
    assert events.prune(now=now, batch=3) == 0
    assert sorted(m for _t, m, _s, _d, _r in rows()) == [9, 10]
