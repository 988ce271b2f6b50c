"""Member import through the service: every kind of bad input gets an error naming its row and
column, strict / valid rows / dry run write what they promise, identities upsert, and store
managers stay inside their store. Real PostgreSQL, real COPY, no mocks."""

from __future__ import annotations

import csv
import io
import random

import pytest
from django.db import transaction

from members.io import bulk, columns, reports, services
from members.io.models import ImportJob, ImportStatus
from members.models import Consent, Identity, Member, MemberTag, StaffRelation, Tag
from members.phones import InvalidPhone, normalize_phone
from scrm.models import AuditLog, Store, User
from tests.members.io.conftest import errors_by_row, run_import, upload, xlsx_bytes

pytestmark = pytest.mark.django_db


def counts():
    return Member.objects.count(), Identity.objects.count(), MemberTag.objects.count()


def only_error(job, row):
    found = errors_by_row(job)
    assert row in found, job.errors
    assert len(found[row]) == 1, found[row]
    return found[row][0]


# --- the happy path ---------------------------------------------------------------------------


def test_import_creates_members_identities_tags_and_owner(alice, store_a, carol, vocabulary):
    content = (
        "姓名,手机号,性别,生日,门店,导购,来源,stage,标签,wecom,miniprogram:wx5f1c,attr:favourite_cacao,attr:kids,"
        "attr:first_visit,attr:vip,attr:flavours\n"
        "张三,138 0013 8000,女,1990-05-01,SH01,carol,门店二维码,act,口味偏好:黑巧;方言:粤语,wm001,oM001,70%,2,"
        "2024/3/5,是,白巧;黑巧\n"
        "王五,+86 139-0013-9000,m,,sh01,,order,,价格敏感度:高,wm002,,,1.50,,no,\n"
    )
    job = run_import(alice, content, mode="strict")
    assert job.status == ImportStatus.DONE, (job.message, job.errors)
    assert (job.rows_total, job.rows_valid, job.rows_invalid) == (2, 2, 0)
    assert (job.created_count, job.updated_count, job.tags_added) == (2, 0, 3)
    assert job.identities_added == 5  # two phones, two WeCom ids, one mini-program openid
    zhang = Member.objects.get(phone="+8613800138000")
    assert (zhang.name, zhang.gender, str(zhang.birthday), zhang.home_store, zhang.owner) == (
        "张三", "f", "1990-05-01", store_a, carol)
    assert (zhang.source, zhang.stage) == ("store_qr", "act")
    assert zhang.attributes == {"favourite_cacao": "70%", "kids": 2, "first_visit": "2024-03-05", "vip": True,
                                "flavours": ["黑巧", "白巧"]}
    assert set(zhang.identities.values_list("channel", "namespace", "external_id")) == {
        ("phone", "", "+8613800138000"), ("wecom", "", "wm001"), ("miniprogram", "wx5f1c", "oM001")}
    assert set(MemberTag.objects.filter(member=zhang).values_list("tag__name", "source", "added_by")) == {
        ("黑巧", "import", alice.pk), ("粤语", "import", alice.pk)}
    relation = StaffRelation.objects.get(member=zhang)
    assert (relation.staff, relation.is_owner, relation.add_way, relation.store) == (carol, True, "import", store_a)
    wang = Member.objects.get(phone="+8613900139000")
    assert (wang.source, wang.stage, wang.attributes) == ("order", "aware", {"kids": 1.5, "vip": False})
    assert wang.home_store == store_a  # store codes match whatever their case


def test_upsert_by_identity_updates_the_member_instead_of_duplicating(alice, store_a, store_b, carol, vocabulary):
    member = Member.objects.create(name="老会员", phone="+8613800138000", home_store=store_a, owner=carol,
                                   attributes={"kids": 1, "note": "keep"})
    Identity.objects.create(member=member, channel="wecom", external_id="wm001")
    MemberTag.objects.create(member=member, tag=vocabulary["tags"]["低"])  # single-choice group 价格敏感度
    job = run_import(alice, "wecom,name,phone,stage,tags,attr:kids\n"
                            "wm001,新名字,13800138000,advocate,价格敏感度:高;口味偏好:黑巧,3\n", mode="strict")
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.created_count, job.updated_count) == (0, 1)
    assert Member.objects.count() == 1
    member.refresh_from_db()
    assert (member.name, member.stage, member.owner, member.home_store) == ("新名字", "advocate", carol, store_a)
    assert member.attributes == {"kids": 3, "note": "keep"}  # merged key by key
    # The single-choice group keeps one tag: 高 replaced 低.
    assert set(member.member_tags.values_list("tag__name", flat=True)) == {"高", "黑巧"}
    assert set(member.identities.values_list("channel", "external_id")) == {
        ("wecom", "wm001"), ("phone", "+8613800138000")}
    # Empty cells leave values alone; a phone identity finds the member too.
    job = run_import(alice, "phone,name,stage\n+86 138 0013 8000,,\n", mode="strict")
    assert (job.status, job.updated_count) == (ImportStatus.DONE, 1)
    member.refresh_from_db()
    assert (member.name, member.stage) == ("新名字", "advocate")


def test_moving_a_member_to_another_store_drops_the_old_stores_guide(alice, store_a, store_b, carol):
    member = Member.objects.create(name="m", phone="+8613800138000", home_store=store_a, owner=carol)
    StaffRelation.objects.create(member=member, staff=carol, store=store_a, is_owner=True)
    Identity.objects.create(member=member, channel="phone", external_id="+8613800138000")
    job = run_import(alice, "phone,home_store\n13800138000,BJ01\n", mode="strict")
    assert job.status == ImportStatus.DONE, job.errors
    member.refresh_from_db()
    assert (member.home_store, member.owner) == (store_b, None)
    assert not StaffRelation.objects.filter(member=member, is_owner=True).exists()


def test_identities_of_two_members_are_an_error_naming_both(alice, store_a):
    a = Member.objects.create(name="a", home_store=store_a)
    b = Member.objects.create(name="b", home_store=store_a)
    Identity.objects.create(member=a, channel="wecom", external_id="wm-a")
    Identity.objects.create(member=b, channel="pos", external_id="card-b")
    job = run_import(alice, "name,wecom,pos\nx,wm-a,card-b\n", mode="valid_rows")
    assert job.status == ImportStatus.FAILED
    column, message = only_error(job, 2)
    assert f"#{a.pk}" in message and f"#{b.pk}" in message and "merge" in message


def test_a_store_manager_sees_no_member_ids_in_conflicts(bob, store_a, store_b):
    a = Member.objects.create(name="a", home_store=store_a)
    b = Member.objects.create(name="b", home_store=store_a)
    c = Member.objects.create(name="c", home_store=store_b)
    Identity.objects.create(member=a, channel="wecom", external_id="wm-a")
    Identity.objects.create(member=b, channel="pos", external_id="card-b")
    Identity.objects.create(member=a, channel="wecom", external_id="wm-a2")
    Identity.objects.create(member=c, channel="tmall", namespace="shop1", external_id="t-c")
    job = run_import(bob, "name,wecom,pos,tmall:shop1\nx,wm-a,card-b,\ny,wm-a2,,t-c\n", mode="valid_rows")
    first, second = only_error(job, 2)[1], only_error(job, 3)[1]
    assert "different members (…)" in first
    assert second == "“wm-a2” belongs to a member of another store."
    assert str(c.pk) not in str(job.errors) and f"#{a.pk}" not in str(job.errors)


def test_two_rows_about_the_same_member_name_each_other(alice, store_a):
    member = Member.objects.create(name="a", home_store=store_a)
    Identity.objects.create(member=member, channel="wecom", external_id="wm-a")
    Identity.objects.create(member=member, channel="pos", external_id="card-a")
    job = run_import(alice, "name,wecom,pos\nx,wm-a,\ny,,card-a\n", mode="valid_rows")
    assert "row 3" in only_error(job, 2)[1] and f"#{member.pk}" in only_error(job, 2)[1]
    assert "row 2" in only_error(job, 3)[1]


# --- each bad input names its row and column, and strict mode writes nothing -------------------


def test_malformed_phone(alice, store_a):
    job = run_import(alice, "name,phone\n甲,13800138000\n乙,1380013800\n", mode="strict")
    assert job.status == ImportStatus.FAILED
    assert job.errors == [{"row": 3, "column": "phone", "column_number": 2, "value": "1380013800",
                           "code": "phone", "params": {"value": "1380013800"}}]
    assert [e["message"] for e in job.rendered_errors()] == ["“1380013800” is not a valid phone number."]
    assert "nothing was imported" in job.summary
    assert counts() == (0, 0, 0)


def test_unknown_tag_is_not_created(alice, store_a, vocabulary):
    tags_before = Tag.objects.count()
    job = run_import(alice, "name,phone,标签\n甲,13800138000,口味偏好:黑巧;口味偏好:榴莲\n", mode="valid_rows")
    assert job.status == ImportStatus.FAILED
    column, message = only_error(job, 2)
    assert column == "标签" and "口味偏好:榴莲" in message and "Unknown tag" in message
    assert Tag.objects.count() == tags_before and counts() == (0, 0, 0)


def test_tag_rules(alice, store_a, vocabulary):
    content = ("name,phone,tags\n"
               "a,13800138001,高价值\n"          # a rule tag
               "b,13800138002,门店\n"            # bare name of two groups
               "c,13800138003,价格敏感度:高;价格敏感度:低\n"  # two tags of a single-choice group
               "d,13800138004,A2; 粤语 ；\n")    # bare names of one group each, full-width separator
    job = run_import(alice, content, mode="valid_rows")
    found = errors_by_row(job)
    assert "rule" in found[2][0][1]
    assert "several groups" in found[3][0][1]
    assert "one tag per member" in found[4][0][1]
    assert 5 not in found
    assert set(MemberTag.objects.values_list("tag__name", flat=True)) == {"A2", "粤语"}


def test_wrong_attribute_types(alice, store_a, vocabulary):
    content = ("name,phone,attr:kids,attr:first_visit,attr:vip,attr:favourite_cacao,attr:flavours,attr:note\n"
               "a,13800138001,two,2024-02-30,maybe,99%,黑巧;榴莲,ok\n"
               "b,13800138002,-5,2024-2-3,否,35%,,\"text, with comma\"\n")
    job = run_import(alice, content, mode="valid_rows")
    found = dict(errors_by_row(job)[2])
    assert set(found) == {"attr:kids", "attr:first_visit", "attr:vip", "attr:favourite_cacao", "attr:flavours"}
    assert "not a number" in found["attr:kids"]
    assert "not a date" in found["attr:first_visit"]
    assert "yes or no" in found["attr:vip"]
    assert "35%, 55%, 70%" in found["attr:favourite_cacao"]
    assert 3 not in errors_by_row(job)
    assert Member.objects.get().attributes == {"kids": -5, "first_visit": "2024-02-03", "vip": False,
                                               "favourite_cacao": "35%", "note": "text, with comma"}


def test_sensitive_attribute_needs_consent(alice, store_a, vocabulary):
    consenting = Member.objects.create(name="yes", home_store=store_a)
    Identity.objects.create(member=consenting, channel="pos", external_id="c1")
    Consent.objects.create(member=consenting, purpose="sensitive_data", channel="all", granted=True)
    other = Member.objects.create(name="no", home_store=store_a)
    Identity.objects.create(member=other, channel="pos", external_id="c2")
    job = run_import(alice, "pos,name,attr:child_birth_month\nc1,,2020-03\nc2,,2021-4\nc3,new,2022-05\n")
    found = errors_by_row(job)
    assert 2 not in found
    assert "consent" in found[3][0][1] and "consent" in found[4][0][1]
    consenting.refresh_from_db()
    assert consenting.attributes == {"child_birth_month": "2020-03"}


def test_duplicate_identity_in_one_file_names_both_rows(alice, store_a):
    content = "name,phone,wecom\n甲,13800138001,wm1\n乙,13800138002,wm2\n丙,13800138003,wm1\n丁,138 0013 8002,\n"
    job = run_import(alice, content, mode="valid_rows")
    found = errors_by_row(job)
    assert found[2] == [("wecom", "“wm1” also appears in row 4; an identity may appear in one row only.")]
    assert found[4] == [("wecom", "“wm1” also appears in row 2; an identity may appear in one row only.")]
    assert "row 5" in found[3][0][1] and found[3][0][0] == "phone"  # the same phone, spelled differently
    assert "row 3" in found[5][0][1]
    assert counts() == (0, 0, 0)  # every row had an error


def test_other_cell_errors(alice, store_a, store_b, carol, dave):
    Store.objects.create(code="OLD1", name="closed", region=store_a.region, city="x", is_active=False)
    content = ("name,phone,gender,birthday,home_store,owner,source,stage\n"
               "a,13800138001,x,1890-01-01,SH99,nobody,tv,stage9\n"
               "b,13800138002,,,OLD1,,,\n"
               "c,13800138003,,,SH01,dave,,\n"
               f"{'长' * 65},13800138004,,,,,,\n"
               ",13800138005,,,,,,\n"
               "f,,,,,,,\n")
    job = run_import(alice, content, mode="valid_rows")
    found = {row: dict(items) for row, items in errors_by_row(job).items()}
    assert set(found[2]) == {"gender", "birthday", "home_store", "owner", "source", "stage"}
    assert "Unknown store code “SH99”" in found[2]["home_store"]
    assert "Unknown staff account “nobody”" in found[2]["owner"]
    assert "closed" in found[3]["home_store"]
    assert "works at store BJ01, not at the member's store SH01" in found[4]["owner"]
    assert "longer than 64" in found[5]["name"]
    assert "needs a name" in found[6]["name"]
    assert "phone number or an id" in found[7][""]
    assert job.status == ImportStatus.FAILED and counts() == (0, 0, 0)


def test_formula_cells(alice, store_a, vocabulary):
    content = ("name,phone,wecom,tags,attr:note,attr:kids\n"
               "=HYPERLINK(\"http://x\"),13800138001,,,,\n"    # formula in a name: refused
               "b,=1+2,,,,\n"                                     # formula in a phone: refused as formula
               "c,13800138003,@SUM(A1),,,\n"                      # formula in an id
               "d,13800138004,,=cmd|' /C calc'!A0,,\n"            # formula in tags
               "e,13800138005,,,+note,\n"                         # formula-like text
               "f,+86 138 0013 8006,,,,-5\n"                      # a phone and a negative number: data
               "g,'+8613800138007,,,'=not a formula,\n")          # our own export's quoting: taken off
    job = run_import(alice, content, mode="valid_rows")
    found = {row: dict(items) for row, items in errors_by_row(job).items()}
    assert "formula" in found[2]["name"]
    assert "formula" in found[3]["phone"]
    assert "formula" in found[4]["wecom"]
    assert "formula" in found[5]["tags"]
    assert "formula" in found[6]["attr:note"]
    assert set(found[8]) == {"attr:note"}  # "'=…" is unquoted to "=…", which a text cell refuses
    assert 7 not in found
    assert Member.objects.get().phone == "+8613800138006"
    assert Member.objects.get().attributes == {"kids": -5}


def test_a_cell_with_several_ids_is_refused_not_stored_as_one(alice, store_a):
    # An export writes a merged member's two ids of one channel as "a;b"; no channel's id has a ";".
    content = "name,phone,wecom\na,13800138001,wm_a;wm_b\nb,13800138002,wm_c\n"
    job = run_import(alice, content, mode="valid_rows")
    found = {row: dict(items) for row, items in errors_by_row(job).items()}
    assert set(found) == {2}
    assert "several ids" in found[2]["wecom"]
    assert not Identity.objects.filter(external_id__contains=";").exists()
    assert Identity.objects.filter(channel="wecom", external_id="wm_c").exists()


def test_extra_cells_blank_rows_and_multiline_cells_keep_row_numbers(alice, store_a):
    content = ('name,phone\n'
               '"two\nlines",13800138001\n'
               ',\n'
               '\n'
               'c,13800138003,surplus\n'
               'd,13800138004,,,\n')
    job = run_import(alice, content, mode="valid_rows")
    assert job.rows_total == 3  # the two blank rows do not count
    assert errors_by_row(job) == {5: [("", "This row has cells beyond the last named column (from column 3 on).")]}
    assert Member.objects.filter(name="two\nlines").exists()


def test_header_errors_fail_the_job(alice, vocabulary):
    job = run_import(alice, "name,phone,colour,phone,attr:shoe_size,\n甲,13800138000,red,1,2\n")
    assert job.status == ImportStatus.FAILED
    assert [(e["column_number"], e["column"]) for e in job.errors] == [
        (3, "colour"), (4, "phone"), (5, "attr:shoe_size")]
    assert all(e["row"] == 1 for e in job.errors)
    job = run_import(alice, "name,gender\n甲,f\n")
    assert job.status == ImportStatus.FAILED and "identifies members" in job.errors[0]["message"]
    assert counts() == (0, 0, 0)


# --- modes ------------------------------------------------------------------------------------


MIXED = "name,phone,tags\n甲,13800138001,口味偏好:黑巧\n乙,1380013800,\n丙,13800138003,\n"


def test_dry_run_writes_nothing_and_reports_the_same(alice, store_a, vocabulary):
    job = run_import(alice, MIXED, mode="dry_run")
    assert job.status == ImportStatus.DONE
    assert (job.rows_total, job.rows_valid, job.rows_invalid, job.created_count, job.tags_added) == (3, 2, 1, 2, 1)
    assert [e["row"] for e in job.errors] == [3]
    assert "Nothing was written" in job.summary
    assert counts() == (0, 0, 0)


def test_strict_writes_nothing_when_a_row_is_invalid(alice, store_a, vocabulary):
    job = run_import(alice, MIXED, mode="strict")
    assert (job.status, job.created_count) == (ImportStatus.FAILED, 0)
    assert counts() == (0, 0, 0)


def test_valid_rows_imports_the_valid_ones(alice, store_a, vocabulary):
    job = run_import(alice, MIXED, mode="valid_rows")
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.rows_invalid, job.tags_added) == (2, 1, 1)
    assert set(Member.objects.values_list("name", flat=True)) == {"甲", "丙"}
    assert "1 rows with errors were skipped" in job.summary
    entry = AuditLog.objects.get()  # an import that writes is audited; dry runs and refused files are not
    assert (entry.user, entry.action, entry.object_id) == (alice, "members.import", str(job.pk))
    assert entry.detail == {"mode": "valid_rows", "rows": 3, "invalid": 1, "created": 2,
                            "updated": 0, "tags_added": 1}


def test_error_report_csv_names_rows_and_neutralises_formulas(alice, store_a):
    job = run_import(alice, "name,phone\n=1+2,13800138001\nb,-12\n", mode="valid_rows")
    assert job.report
    text = b"".join(reports.worded(job.report.open("rb"))).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["row", "column", "value", "message"]
    assert rows[1][:3] == ["2", "name", "'=1+2"]
    assert rows[2][:3] == ["3", "phone", "'-12"]


def test_a_failure_while_writing_leaves_nothing_behind(alice, store_a, vocabulary):
    """Someone adds one of the file's identities between validation and writing: the import
    stops and its members, identities and tags are rolled back with it."""
    layout = columns.parse_header(["name", "phone", "wecom", "tags"])
    rows = iter([(2, ["甲", "13800138001", "wm1", "口味偏好:黑巧"]), (3, ["乙", "13800138002", "wm2", ""])])
    other = Member.objects.create(name="other", home_store=store_a)
    with pytest.raises(bulk.ConcurrentChange), transaction.atomic():
        importer = bulk.Importer(layout=layout, store_id=None, user_id=alice.pk)
        importer.load(rows)
        importer.validate()
        Identity.objects.create(member=other, channel="wecom", external_id="wm2")
        importer.write()
    assert counts() == (1, 0, 0)


# --- files ------------------------------------------------------------------------------------


def test_gb18030_csv_with_chinese_headers(alice, store_a, carol, vocabulary):
    content = "姓名,手机号,性别,门店,导购,标签\n张三,13800138000,女,SH01,carol,口味偏好:黑巧\n".encode("gb18030")
    job = run_import(alice, content, mode="strict")
    assert job.status == ImportStatus.DONE, job.errors
    assert Member.objects.get().name == "张三"


def test_gb18030_after_a_long_ascii_start(alice, store_a):
    """Judged by its Chinese, not by its ASCII start: one short name could be GB18030, EUC-KR or
    EUC-JP, so the file is refused until its encoding is chosen, and then imports as chosen."""
    rows = "".join(f"m{i},1380000{i:04d}\n" for i in range(6000))  # ~100 KB of ASCII first
    content = ("name,phone\n" + rows + "张三,13900139000\n").encode("gb18030")
    with pytest.raises(services.ImportRefused) as refused:
        run_import(alice, content, mode="strict")
    assert refused.value.code == "encoding_unclear" and "GB18030" in refused.value.message
    assert not ImportJob.objects.exists()
    job = services.run_import(job_id=services.create_import(
        actor=alice, upload=upload(content), mode="strict", encoding="gb18030").pk)
    assert job.status == ImportStatus.DONE, (job.summary, job.errors[:3])
    assert job.encoding == "gb18030"
    assert Member.objects.filter(name="张三").exists()


def test_utf8_with_bom_and_tabs(alice, store_a):
    job = run_import(alice, "\ufeffname\tphone\n张三\t13800138000\n".encode(), mode="strict")
    assert job.status == ImportStatus.DONE, job.errors
    assert Member.objects.get().name == "张三"


def test_text_in_no_encoding_is_refused_at_upload(alice, store_a):
    content = "name,phone\n张三,13800138000\n".encode() + b"\xff\xfe\xfa,1\n"
    with pytest.raises(services.ImportRefused) as refused:
        run_import(alice, content + b"x" * 70000, mode="strict")
    assert refused.value.code == "encoding_unclear" and "CSV UTF-8" in refused.value.message
    assert not ImportJob.objects.exists() and counts() == (0, 0, 0)


def test_unreadable_text_past_the_sample_fails_naming_the_row(alice, store_a):
    """Detection reads a bounded sample of the text; what lies past it is read strictly as the
    encoding chosen, and a byte of another encoding stops the import at its row."""
    rows = "".join(f"张三{i},138{i:08d}\n" for i in range(20000))  # ~400 KB of UTF-8 Chinese
    content = ("name,phone\n" + rows).encode() + "李四,13900139000\n".encode("gb18030")
    job = run_import(alice, content, mode="strict")
    assert job.status == ImportStatus.FAILED
    assert "cannot be read as UTF-8 after row" in job.summary, job.summary
    row = int(job.summary.split("after row ")[1].split()[0])
    assert 19000 < row <= 20001  # where reading stopped: text is decoded a buffer ahead of the rows
    assert counts() == (0, 0, 0)


def test_xlsx_with_numbers_dates_formulas_and_gaps(alice, store_a, vocabulary):
    from datetime import date

    content = xlsx_bytes([
        ["姓名", "手机号", "生日", "attr:kids", "标签"],
        ["张三", 13800138000, date(1990, 5, 1), 2, "口味偏好:黑巧"],
        [None, None, None, None, None],
        ["李四", 13900139000, None, "=1+1", None],
    ])
    job = run_import(alice, content, mode="valid_rows", name="members.xlsx")
    assert job.format == "xlsx"
    assert errors_by_row(job) == {4: [("attr:kids", "“=1+1” starts like a spreadsheet formula (=, +, -, @); "
                                                    "formulas are not imported.")]}
    zhang = Member.objects.get()
    assert (zhang.phone, str(zhang.birthday), zhang.attributes) == ("+8613800138000", "1990-05-01", {"kids": 2})


def test_old_excel_is_refused(alice):
    with pytest.raises(services.ImportRefused, match="xls"):
        services.create_import(actor=alice, upload=upload(b"\xd0\xcf\x11\xe0rest", "old.xls"), mode="strict")


def test_a_file_over_the_size_limit_is_refused_with_its_size(alice, settings):
    settings.MEMBER_IMPORT_MAX_BYTES = 1024
    with pytest.raises(services.ImportRefused) as refused:
        services.create_import(actor=alice, upload=upload("name,phone\n" + "x,13800138000\n" * 200), mode="strict")
    assert refused.value.status == 413
    message = refused.value.message.replace("\xa0", " ")
    assert "2.7 KB" in message and "1.0 KB" in message
    assert not ImportJob.objects.exists()


def test_too_many_rows(alice, store_a, settings):
    settings.MEMBER_IMPORT_MAX_ROWS = 3
    job = run_import(alice, "name,phone\n" + "".join(f"m{i},1380013800{i}\n" for i in range(5)), mode="valid_rows")
    assert job.status == ImportStatus.FAILED and "more than 3 rows" in job.summary
    assert counts() == (0, 0, 0)


# --- who may import what ----------------------------------------------------------------------


def test_store_staff_cannot_import(carol):
    with pytest.raises(services.ImportRefused) as refused:
        services.create_import(actor=carol, upload=upload("name,phone\na,13800138000\n"), mode="strict")
    assert refused.value.status == 403


def test_store_manager_imports_into_their_own_store_only(bob, store_a, store_b, carol, dave):
    elsewhere = Member.objects.create(name="北京会员", home_store=store_b, phone="+8613900139000")
    Identity.objects.create(member=elsewhere, channel="phone", external_id="+8613900139000")
    content = ("name,phone,home_store,owner\n"
               "a,13800138001,,\n"          # no store: the manager's store
               "b,13800138002,BJ01,\n"      # another store, named
               "c,13900139000,,\n"          # an identity of another store's member
               "d,13800138004,,dave\n"      # a guide of another store
               "e,13800138005,SH01,carol\n")
    job = run_import(bob, content, mode="valid_rows")
    assert job.store == store_a
    found = {row: dict(items) for row, items in errors_by_row(job).items()}
    assert "own store (SH01)" in found[3]["home_store"]
    assert found[4] == {"phone": "“+8613900139000” belongs to a member of another store."}
    assert str(elsewhere.pk) not in str(job.errors)
    assert "BJ01" in found[5]["owner"]
    assert set(Member.objects.filter(home_store=store_a).values_list("name", flat=True)) == {"a", "e"}
    elsewhere.refresh_from_db()
    assert elsewhere.name == "北京会员"


# --- the phone fast path agrees with normalize_phone ------------------------------------------


def test_sql_phone_check_agrees_with_normalize_phone(alice, store_a):
    """The SQL fast path accepts Chinese mobiles by libphonenumber's own pattern; everything else
    goes through normalize_phone. Either way each row gets exactly what normalize_phone says."""
    rng = random.Random(3)
    samples = []
    shapes = [lambda d: d, lambda d: "+86" + d, lambda d: "0086 " + d, lambda d: f"{d[:3]} {d[3:7]} {d[7:]}",
              lambda d: f"({d[:3]}){d[3:]}", lambda d: f"{d[:3]}-{d[3:7]}-{d[7:]}", lambda d: "86" + d,
              lambda d: d + "1", lambda d: "+1 415 555 " + d[7:], lambda d: "010-" + d[3:]]
    for _ in range(400):
        digits = "1" + "".join(rng.choice("0123456789") for _ in range(10))
        samples.append(rng.choice(shapes)(digits))
    content = "name,phone\n" + "".join(f"m{i},{phone}\n" for i, phone in enumerate(samples))
    job = run_import(alice, content, mode="valid_rows")
    stored = dict(Member.objects.values_list("name", "phone"))
    rejected = {e["row"] for e in job.errors if e["column"] == "phone" and e["code"] == "phone"}
    duplicated = {e["row"] for e in job.errors if e["code"] == "duplicate"}
    for i, phone in enumerate(samples):
        try:
            expected = normalize_phone(phone)
        except InvalidPhone:
            assert i + 2 in rejected, phone
            continue
        assert i + 2 not in rejected, phone
        if i + 2 not in duplicated:
            assert stored[f"m{i}"] == expected, phone
    assert len(stored) > 100 and rejected  # the sample has both kinds


def test_running_a_job_twice_does_nothing_the_second_time(alice, store_a):
    job = services.create_import(actor=alice, upload=upload("name,phone\na,13800138000\n"), mode="strict")
    assert services.run_import(job_id=job.pk).status == ImportStatus.DONE
    assert services.run_import(job_id=job.pk) is None
    assert Member.objects.count() == 1
    assert User.objects.filter(pk=alice.pk).exists()
