"""First load (members.io.first_load): the same database as the import, refusals, and a failure
half-way that leaves the tables (and their indexes) as they were."""

from __future__ import annotations

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection

from members.io import first_load
from members.io.models import ImportStatus
from members.models import Consent, Identity, Member, MemberTag, ServiceNote, StaffRelation
from members.segments import index as segments_index

from .conftest import run_import

# Every column a file can carry: identities in two namespaces, tags (one named twice, a
# single-choice group), attributes of each type, consent on every purpose and a channel.
FILE = (
    "name,phone,gender,birthday,home_store,owner,source,stage,wecom,tmall:shop1,tags,"
    "attr:favourite_cacao,attr:kids,attr:first_visit,attr:vip,attr:flavours,attr:note,"
    "consent:marketing,consent:marketing:sms,consent:profiling\n"
    "张三,138 0013 8000,女,1990-05-01,SH01,carol,门店二维码,act,wm001,tb001,口味偏好:黑巧;方言:粤语;黑巧,"
    "70%,2,2024/3/5,是,白巧;黑巧,喜欢黑巧,granted,granted,granted\n"
    "王五,+86 139-0013-9000,m,,sh01,,order,,wm002,,价格敏感度:高,,1.50,,no,,,withdrawn,,\n"
    "赵六,13700137000,,,BJ01,dave,,advocate,,tb003,A2,35%,,,,牛奶巧,,,withdrawn,granted\n"
    "孙七,,,,,,,,wm004,,,,,,,,,,,\n"
    # the member already in the pool: found by wecom id, tag of a single-choice group replaced,
    # owner moved, consent withdrawn on every channel (its sms grant withdrawn with it)
    "老会员,,,,SH01,carol,,,wm900,,价格敏感度:高,,3,,,,,withdrawn,,\n"
)

# Columns left out of the comparison: when each row was written.
WHEN = {"created_at", "updated_at", "added_at", "recorded_at", "occurred_at"}


def _existing_member(store_b, dave, vocabulary):
    """One member a brand keyed in by hand before its first load: a wecom id, a tag, a guide, consent."""
    member = Member.objects.create(name="老会员", phone="+8613600136000", home_store=store_b, owner=dave,
                                   attributes={"kids": 1, "note": "keep"})
    Identity.objects.create(member=member, channel="phone", external_id="+8613600136000")
    Identity.objects.create(member=member, channel="wecom", external_id="wm900")
    MemberTag.objects.create(member=member, tag=vocabulary["tags"]["低"])
    StaffRelation.objects.create(member=member, staff=dave, store=store_b, is_owner=True)
    for channel in ("all", "sms"):
        Consent.objects.create(member=member, purpose="marketing", channel=channel, granted=True)
    return member


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every table a load writes (and the bitmap index), without surrogate ids (but
    with the members' ids) and without the times rows were written."""
    found = {}
    with connection.cursor() as cursor:
        for table in (*first_load.TABLES, segments_index.TABLE):
            cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                           "ORDER BY ordinal_position", [table])
            names = [name for (name,) in cursor.fetchall()
                     if name not in WHEN and (name != "id" or table == Member._meta.db_table)]
            listed = ", ".join(f'"{name}"::text' for name in names)
            # A chunk whose last member left keeps its zero bits in the index the triggers keep; a
            # rebuild leaves it out: the same index.
            kept = "WHERE bit_count(bits) > 0" if table == segments_index.TABLE else ""
            cursor.execute(f"SELECT {listed} FROM {table} {kept} ORDER BY {listed}")
            found[table] = cursor.fetchall()
    return found


def _schema() -> list[tuple]:
    """The indexes, constraints and triggers of the tables a load writes."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT 'index', indexdef FROM pg_indexes WHERE tablename = ANY(%(t)s)
            UNION ALL
            SELECT 'constraint', conrelid::regclass::text || ' ' || conname::text || ' ' || pg_get_constraintdef(oid)
            FROM pg_constraint WHERE conrelid = ANY(%(t)s::regclass[])
            UNION ALL
            SELECT 'trigger', tgrelid::regclass::text || ' ' || tgname::text || ' ' || tgenabled::text
            FROM pg_trigger WHERE tgrelid = ANY(%(t)s::regclass[]) AND NOT tgisinternal
            ORDER BY 1, 2""", {"t": list(first_load.TABLES)})
        return cursor.fetchall()


def _empty_pool() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(first_load.TABLES)} RESTART IDENTITY CASCADE")


@pytest.fixture
def csv_file(tmp_path):
    def write(content: str, name: str = "members.csv"):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return path
    return write


def test_first_load_writes_what_the_import_writes(alice, store_a, store_b, carol, dave, vocabulary, csv_file):
    _empty_pool()
    _existing_member(store_b, dave, vocabulary)
    job = run_import(alice, FILE, mode="strict")
    assert job.status == ImportStatus.DONE, job.errors
    imported = _snapshot()
    schema = _schema()

    _empty_pool()
    _existing_member(store_b, dave, vocabulary)
    result = first_load.run(csv_file(FILE), actor=alice)
    loaded = _snapshot()

    assert (result.rows, result.created, result.updated) == (5, 4, 1)
    assert (result.identities, result.tags) == (job.identities_added, job.tags_added) == (8, 5)
    assert len(loaded[Member._meta.db_table]) == 5
    assert len(loaded["scrm_event"]) > 10  # joined, tag added and removed, consent changed
    for table in imported:
        assert loaded[table] == imported[table], table
    assert _schema() == schema  # every index, constraint and trigger back as it was
    assert segments_index.differences() == []
    zhang = Member.objects.get(phone="+8613800138000")
    assert sorted(MemberTag.objects.filter(member=zhang).values_list("tag__name", flat=True)) == ["粤语", "黑巧"]
    assert Member.objects.get(name="老会员").attributes == {"kids": 3, "note": "keep"}


def test_an_invalid_file_loads_nothing_and_names_row_and_column(alice, store_a, vocabulary, csv_file):
    schema = _schema()
    with pytest.raises(first_load.FirstLoadRefused) as refused:
        first_load.run(csv_file("name,phone,tags,attr:kids\n甲,13800138000,口味偏好:黑巧,2\n乙,12,没有这个,x\n"),
                       actor=alice)
    assert refused.value.code == "validation_error"
    assert {(e["row"], e["column"]) for e in refused.value.errors} == {(3, "phone"), (3, "tags"), (3, "attr:kids")}
    assert "1 of 2 rows" in refused.value.message
    assert not Member.objects.exists() and not Identity.objects.exists()
    assert _schema() == schema


def test_a_live_pool_is_refused(alice, members, csv_file, settings):
    settings.MEMBER_FIRST_LOAD_MAX_MEMBERS = 4  # the fixture made five
    with pytest.raises(first_load.FirstLoadRefused) as refused:
        first_load.run(csv_file("name,phone\n甲,13800138000\n"), actor=alice)
    assert refused.value.code == "pool_live" and "more than 4 members" in refused.value.message
    settings.MEMBER_FIRST_LOAD_MAX_MEMBERS = 5
    assert first_load.pool_problem() is None


def test_a_pool_with_history_is_refused(alice, members, csv_file):
    ServiceNote.objects.create(member=members[0][0], body="来过两次")
    with pytest.raises(first_load.FirstLoadRefused) as refused:
        first_load.run(csv_file("name,phone\n甲,13800138000\n"), actor=alice)
    assert refused.value.code == "pool_live" and "members_servicenote" in refused.value.message
    assert Member.objects.count() == 5


def test_only_operators_run_a_first_load(bob, csv_file):
    with pytest.raises(first_load.FirstLoadRefused) as refused:
        first_load.run(csv_file("name,phone\n甲,13800138000\n"), actor=bob)
    assert refused.value.code == "permission_denied"


def _other_connection():
    settings = connection.settings_dict
    other = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
                             host=settings["HOST"] or None, port=settings["PORT"] or None)
    other.autocommit = False
    return other


def test_refused_while_an_import_runs_and_an_import_waits_for_a_first_load(alice, store_a, csv_file):
    other = _other_connection()
    try:
        with other.cursor() as cursor:  # an import's transaction, half-way
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", list(first_load.FIRST_LOAD_LOCK))
        with pytest.raises(first_load.FirstLoadRefused) as refused:
            first_load.run(csv_file("name,phone\n甲,13800138000\n"), actor=alice)
        assert refused.value.code == "busy"
        other.rollback()
        with other.cursor() as cursor:  # a first load's transaction, half-way
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(first_load.FIRST_LOAD_LOCK))
        job = run_import(alice, "name,phone\n甲,13800138000\n", mode="strict")
        assert (job.status, job.message_code) == (ImportStatus.FAILED, "first_load_running")
        assert "first load" in job.summary
    finally:
        other.close()
    assert not Member.objects.exists()


def test_a_failure_half_way_rolls_back_rows_and_indexes(alice, store_a, vocabulary, csv_file):
    schema = _schema()
    with connection.cursor() as cursor:  # the database refuses the consent records, after members and tags
        cursor.execute("""
            CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'refused half-way'; END $$;
            CREATE TRIGGER refuse_records BEFORE INSERT ON members_consentrecord
            FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()""")
    with pytest.raises(DatabaseError, match="refused half-way"):
        first_load.run(csv_file("name,phone,tags,consent:marketing\n甲,13800138000,口味偏好:黑巧,granted\n"),
                       actor=alice)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_records ON members_consentrecord")
    assert _schema() == schema
    assert not Member.objects.exists() and not MemberTag.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scrm_event")
        assert cursor.fetchone()[0] == 0
    assert segments_index.differences() == []


def test_command_reports_rows_seconds_and_rate(alice, store_a, csv_file, capsys):
    call_command("first_load", str(csv_file("name,phone,wecom\n甲,13800138000,wm1\n乙,13900139000,wm2\n")),
                 user="alice")
    out = capsys.readouterr().out
    assert "Loaded 2 rows" in out and "rows/s" in out and "2 members created" in out and "4 identities" in out
    assert Identity.objects.count() == 4
    with pytest.raises(CommandError, match="1 of 1 rows have errors"):
        call_command("first_load", str(csv_file("name,phone\n丙,12\n", name="bad.csv")))
    assert "row 2, column phone" in capsys.readouterr().err


def test_the_import_page_points_an_operator_at_a_first_load_while_the_pool_is_empty(alice, bob, store_a, settings):
    from django.test import Client

    def page(user):
        client = Client()
        client.force_login(user)
        response = client.get("/members/import/")
        assert response.status_code == 200
        return response.content.decode()

    assert 'data-testid="first-load"' in page(alice) and "first_load members.csv --user alice" in page(alice)
    assert 'data-testid="first-load"' not in page(bob)  # a store manager
    Member.objects.create(name="甲", phone="+8613800138000", home_store=store_a)
    settings.MEMBER_FIRST_LOAD_MAX_MEMBERS = 0
    assert 'data-testid="first-load"' not in page(alice)
