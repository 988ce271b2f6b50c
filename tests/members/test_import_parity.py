"""The file import and the per-member service apply the same rules. The same rows (new members,
updates by phone and by identity, new identities, tags, attributes, consent granted and withdrawn,
blank cells and a few invalid rows) run once through upsert_member (and set_consent for the consent
cells), row by row, and once through the set-based import (members.io) as a CSV, each on the same
freshly seeded database. The resulting tables are compared with ids and timestamps normalised.

Where the two paths differ by design, the comparison says so and why (DESIGN below), and a test of
its own pins each difference down. Rules that only exist for a batch (two rows about one member, an
id in two rows) are the import's and bulk_upsert_members' and are not part of the comparison: the
per-member path sees each row's writes before the next row."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import transaction

from members.errors import IdentityConflict
from members.io.models import ImportStatus
from members.models import (
    AttributeDefinition,
    Consent,
    ConsentRecord,
    Identity,
    Member,
    MemberEvent,
    MemberTag,
    StaffRelation,
    Tag,
    TagGroup,
    TagSource,
)
from members.services.consent import set_consent
from members.services.upsert import upsert_member
from scrm.errors import InvalidInput
from tests.members.io.conftest import errors_by_row, run_import

pytestmark = pytest.mark.django_db

HEADER = ["name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage", "wecom", "pos", "tags",
          "attr:kids", "attr:vip", "attr:flavours", "attr:first_visit", "attr:note", "attr:child_birth_month",
          "consent:marketing", "consent:marketing:sms"]
CONSENT_COLUMNS = [("consent:marketing", "marketing", "all"), ("consent:marketing:sms", "marketing", "sms")]
ANSWERS = {"granted": True, "withdrawn": False}


def row(**cells) -> dict:
    unknown = set(cells) - {h.replace(":", "_") for h in HEADER}
    assert not unknown, unknown
    return {h: cells.get(h.replace(":", "_"), "") for h in HEADER}


# Row numbers as the import reports them (the header is row 1).
ROWS = [
    # 2: a new member with every field, an id, tags, attributes and a consent
    row(name="张三", phone="13900139001", gender="f", birthday="1990-05-01", home_store="SH01", owner="carol",
        source="store_qr", stage="act", wecom="wm100", tags="口味偏好:黑巧;方言:粤语", attr_kids="2", attr_vip="true",
        attr_flavours="白巧;黑巧", attr_first_visit="2024-03-05", attr_note="  喜欢黑巧  ",
        consent_marketing="granted"),
    # 3: a new member by phone only, a few fields, a channel grant (no source: see DESIGN)
    row(name="李四", phone="+86 139-0013-9002", stage="appeal", consent_marketing_sms="granted"),
    # 4: an update found by phone: renamed, new stage, a single-choice tag replacing the old one, an
    # attribute merged into the others, marketing withdrawn on every channel (the sms grant with it)
    row(name="新名字", phone="138 0013 8000", stage="advocate", tags="价格敏感度:高", attr_kids="3",
        consent_marketing="withdrawn"),
    # 5: an update found by a POS card, a new WeCom id, blank cells leaving values alone, a grant
    row(pos="card-2", wecom="wm200", attr_vip="否", consent_marketing_sms="granted"),
    # 6: a new member by a WeCom id only, in store BJ01
    row(name="王五", wecom="wm300", home_store="BJ01", source="event", gender="m"),
    # 7: an update moving a member to another store without an owner: the old store's guide goes
    row(phone="13700137005", home_store="BJ01"),
    # 8: a sensitive attribute for a member who consented to it
    row(wecom="wm-m4", attr_child_birth_month="2020-03"),
    # 9: an update that changes nothing
    row(phone="13700137006", name="不变", stage="aware"),
    # --- invalid rows: each path refuses them and writes nothing for them
    row(name="坏电话", phone="1380013800"),                                   # 10: not a phone number
    row(name="坏门店", phone="13900139011", home_store="SH99"),              # 11: unknown store
    row(name="远方导购", phone="13900139012", home_store="BJ01", owner="carol"),  # 12: guide of another store
    row(name="长" * 65, phone="13900139013"),                                # 13: name too long
    row(wecom="wm-m3", attr_child_birth_month="2020-04"),                   # 14: sensitive value, no consent
    row(name="坏选项", phone="13900139015", stage="stage9"),                 # 15: not a 5A stage
    row(name="坏属性", phone="13900139016", attr_kids="many"),               # 16: not a number
    row(name="两人", wecom="wm001", pos="card-3"),                           # 17: ids of two members
    row(name="坏生日", phone="13900139018", birthday="1890-01-01"),          # 18: birthday out of range
    row(name="关店", phone="13900139019", home_store="OLD1"),                # 19: closed store
    row(name="规则标签", phone="13900139020", tags="口味偏好:高价值"),       # 20: a rule tag
    row(name="单选两个", phone="13900139021", tags="价格敏感度:高;价格敏感度:低"),  # 21: one tag per group
    row(name="坏是否", phone="13900139022", attr_vip="maybe"),              # 22: not yes or no
]
INVALID = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}
# The field each invalid row is refused for (an identity conflict is refused as a whole).
INVALID_FIELDS = {10: {"phone"}, 11: {"home_store"}, 12: {"owner"}, 13: {"name"}, 14: {"attr:child_birth_month"},
                  15: {"stage"}, 16: {"attr:kids"}, 18: {"birthday"}, 19: {"home_store"}, 20: {"tags"}, 21: {"tags"},
                  22: {"attr:vip"}}

# Differences by design, and why.
DESIGN = {
    "source": "A member an import creates without a source cell came from that import (Source.IMPORT); "
              "the API's default is the model's (Source.OTHER).",
    "add_way": "An owner relation the import creates says it came from the import (AddWay.IMPORT).",
    "timeline": "An import records its job and an audit entry, not one created/updated event per member "
                "(MemberEvent: bulk operations record their own job); its consent changes are one event "
                "per member listing every change.",
}


@pytest.fixture
def vocabulary(db):
    taste = TagGroup.objects.create(name="口味偏好")
    price = TagGroup.objects.create(name="价格敏感度", multiple=False)
    dialect = TagGroup.objects.create(name="方言")
    tags = {f"{t.group.name}:{t.name}": t for t in [
        Tag.objects.create(group=taste, name="黑巧"), Tag.objects.create(group=taste, name="牛奶巧"),
        Tag.objects.create(group=price, name="高"), Tag.objects.create(group=price, name="低"),
        Tag.objects.create(group=dialect, name="粤语"),
        Tag.objects.create(group=taste, name="高价值", rule={"all": []}),
    ]}
    AttributeDefinition.objects.create(code="kids", label="孩子数", type="number")
    AttributeDefinition.objects.create(code="vip", label="VIP", type="boolean")
    AttributeDefinition.objects.create(code="flavours", label="口味", type="multi_choice",
                                       choices=["黑巧", "白巧", "牛奶巧"])
    AttributeDefinition.objects.create(code="first_visit", label="首次到店", type="date")
    AttributeDefinition.objects.create(code="note", label="备注", type="text")
    AttributeDefinition.objects.create(code="child_birth_month", label="孩子出生年月", type="month", sensitive=True)
    return tags


@pytest.fixture
def world(alice, store_a, store_b, carol, vocabulary):
    from scrm.models import Store

    Store.objects.create(code="OLD1", name="closed", region=store_a.region, city="x", is_active=False)
    return {"actor": alice, "tags": vocabulary}


def seed(world) -> None:
    """The members the rows find, written the same way before each run."""
    from scrm.models import Store, User

    store_a, carol = Store.objects.get(code="SH01"), User.objects.get(username="carol")
    tags = world["tags"]

    def member(name, *ids, **fields):
        m = Member.objects.create(name=name, home_store=store_a, **fields)
        for channel, external_id in ids:
            Identity.objects.create(member=m, channel=channel, external_id=external_id)
        return m

    m1 = member("老会员", ("phone", "+8613800138000"), ("wecom", "wm001"), phone="+8613800138000", owner=carol,
                attributes={"kids": 1, "note": "keep"})
    StaffRelation.objects.create(member=m1, staff=carol, store=store_a, is_owner=True)
    MemberTag.objects.create(member=m1, tag=tags["价格敏感度:低"])
    Consent.objects.create(member=m1, purpose="marketing", channel="sms", granted=True)
    m2 = member("会员二", ("pos", "card-2"), stage="ask", attributes={"vip": True})
    Consent.objects.create(member=m2, purpose="marketing", channel="all", granted=True)
    member("会员三", ("wecom", "wm-m3"), ("pos", "card-3"))
    m4 = member("会员四", ("wecom", "wm-m4"))
    Consent.objects.create(member=m4, purpose="sensitive_data", channel="all", granted=True)
    m5 = member("会员五", ("phone", "+8613700137005"), phone="+8613700137005", owner=carol)
    StaffRelation.objects.create(member=m5, staff=carol, store=store_a, is_owner=True)
    member("不变", ("phone", "+8613700137006"), phone="+8613700137006", stage="aware")


def as_csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows([r[h] for h in HEADER] for r in rows)
    return buffer.getvalue()


def through_the_import(world, rows) -> dict[int, set[str]]:
    """Run the rows as a file; returns the columns refused, by row."""
    job = run_import(world["actor"], as_csv(rows), mode="valid_rows")
    assert job.status == ImportStatus.DONE or job.rows_valid == 0, (job.message, job.errors)
    return {number: {column for column, _message in found} for number, found in errors_by_row(job).items()}


def service_call(cells: dict, tags: dict) -> tuple[list, dict, list | None, list]:
    """A row as an integration would send it to the API: its non-empty cells."""
    cells = {k: v for k, v in cells.items() if v != ""}
    identities = [{"channel": c, "external_id": cells.pop(c)} for c in ("wecom", "pos") if c in cells]
    tag_ids = [tags[t].pk for t in cells.pop("tags").split(";")] if "tags" in cells else None
    consents = [(purpose, channel, ANSWERS[cells.pop(column)])
                for column, purpose, channel in CONSENT_COLUMNS if column in cells]
    values = {}
    for column in [c for c in cells if c.startswith("attr:")]:
        code, value = column.removeprefix("attr:"), cells.pop(column)
        values[code] = value.split(";") if code == "flavours" else value
    profile = dict(cells, **({"attributes": values} if values else {}))
    return identities, profile, tag_ids, consents


def refused_fields(details: dict) -> set[str]:
    found = set()
    for name, value in details.items():
        found |= {f"attr:{code}" for code in value} if name == "attributes" else {name}
    return found


def through_the_service(world, rows) -> dict[int, set[str]]:
    """upsert_member per row (then set_consent per consent cell, every channel first); returns the
    fields refused, by row."""
    refused = {}
    for number, cells in enumerate(rows, start=2):
        identities, profile, tag_ids, consents = service_call(cells, world["tags"])
        try:
            with transaction.atomic():
                result = upsert_member(identities=identities, profile=profile, tags=tag_ids, actor=world["actor"],
                                       tag_source=TagSource.IMPORT)
                member = Member.objects.get(pk=result.member_id)
                for purpose, channel, granted in consents:
                    set_consent(member=member, purpose=purpose, channel=channel, granted=granted, source="import",
                                actor=world["actor"])
        except IdentityConflict:
            refused[number] = set()
        except InvalidInput as exc:
            refused[number] = refused_fields(exc.details)
    return refused


def snapshot() -> dict[str, dict]:
    """Each table as {member name: what it holds for that member}, without ids and timestamps."""
    names = dict(Member.objects.values_list("pk", "name"))

    def by_member(rows):
        found: dict[str, list] = {}
        for member_id, *values in rows:
            found.setdefault(names[member_id], []).append(tuple(values))
        return {name: sorted(values, key=repr) for name, values in found.items()}

    members = Member.objects.select_related("home_store", "owner")
    return {
        "members": {m.name: {
            "phone": m.phone, "gender": m.gender, "birthday": m.birthday, "stage": m.stage, "source": m.source,
            "home_store": m.home_store.code if m.home_store else None,
            "owner": m.owner.username if m.owner else None,
        } for m in members},
        "attributes": {m.name: m.attributes for m in members},
        "identities": by_member(Identity.objects.values_list("member_id", "channel", "namespace", "external_id")),
        "tags": by_member(MemberTag.objects.values_list("member_id", "tag__group__name", "tag__name", "source",
                                                        "added_by__username", "added_by_label")),
        "consents": by_member(Consent.objects.values_list("member_id", "purpose", "channel", "granted")),
        "consent_records": by_member(ConsentRecord.objects.values_list(
            "member_id", "purpose", "channel", "granted", "source", "evidence", "recorded_by__username",
            "recorded_by_label")),
        "consent_changes": by_member(_consent_changes()),
        "relations": by_member(StaffRelation.objects.values_list("member_id", "staff__username", "store__code",
                                                                 "is_owner", "state", "remark")),
        "add_ways": by_member(StaffRelation.objects.values_list("member_id", "add_way")),
        "timeline": by_member(MemberEvent.objects.exclude(kind=MemberEvent.Kind.CONSENT)
                              .values_list("member_id", "kind")),
    }


def _consent_changes():
    """(member, purpose, channel, granted) for each consent change the timeline records, whichever
    shape its event has: set_consent's one per call, or the import's one per member."""
    for member_id, data in MemberEvent.objects.filter(kind=MemberEvent.Kind.CONSENT).values_list("member_id", "data"):
        if "purpose" in data:
            for channel in data["changed"]:
                yield member_id, data["purpose"], channel, data["granted"]
        else:
            for change in data["changed"]:
                yield member_id, change["purpose"], change["channel"], change["granted"]


def run_fresh(world, path, rows):
    """Seed, run `path` over `rows`, take the snapshot, and roll everything back."""
    with transaction.atomic():
        seed(world)
        refused = path(world, rows)
        state = snapshot()
        transaction.set_rollback(True)
    return refused, state


def test_the_import_and_the_service_leave_the_same_tables(world):
    by_import, imported = run_fresh(world, through_the_import, ROWS)
    by_service, served = run_fresh(world, through_the_service, ROWS)

    assert set(by_import) == set(by_service) == INVALID
    for number, fields in INVALID_FIELDS.items():
        assert by_import[number] == by_service[number] == fields, number

    # DESIGN["source"]: 李四 (row 3) has no source cell.
    assert (imported["members"]["李四"]["source"], served["members"]["李四"]["source"]) == ("import", "other")
    served["members"]["李四"]["source"] = "import"
    # DESIGN["add_way"]: the owner relation 张三 got with carol.
    assert (imported["add_ways"]["张三"], served["add_ways"]["张三"]) == ([("import",)], [("other",)])
    # DESIGN["timeline"]: the service records what it created and changed; the import its job.
    assert imported["timeline"] == {}
    assert served["timeline"]["张三"] == [("created",)]
    # 价格敏感度 is a one-choice group: the service records replacing 低 by 高 as a removal.
    assert sorted(served["timeline"]["新名字"]) == [("tag_removed",), ("updated",)]
    for name in ("add_ways", "timeline"):
        del imported[name], served[name]

    for table in imported:
        assert imported[table] == served[table], table

    # What the rows did, so the comparison above compares something.
    zhang = imported["members"]["张三"]
    assert (zhang["home_store"], zhang["owner"], zhang["stage"], zhang["gender"]) == ("SH01", "carol", "act", "f")
    assert imported["attributes"]["张三"] == {"kids": 2, "vip": True, "flavours": ["黑巧", "白巧"],
                                              "first_visit": "2024-03-05", "note": "喜欢黑巧"}
    assert imported["attributes"]["新名字"] == {"kids": 3, "note": "keep"}
    assert imported["attributes"]["会员二"] == {"vip": False}
    assert imported["attributes"]["会员四"] == {"child_birth_month": "2020-03"}
    assert [t[:2] for t in imported["tags"]["新名字"]] == [("价格敏感度", "高")]
    assert imported["consents"]["新名字"] == [("marketing", "all", False), ("marketing", "sms", False)]
    assert imported["consents"]["会员二"] == [("marketing", "all", True), ("marketing", "sms", True)]
    assert ("wecom", "", "wm200") in imported["identities"]["会员二"]
    assert imported["members"]["会员五"]["owner"] is None and imported["relations"]["会员五"] == [
        ("carol", "SH01", False, "", "")]
    assert "坏电话" not in imported["members"] and "坏电话" not in served["members"]


def test_a_file_needs_a_name_for_a_new_member_the_api_does_not(world):
    """By design: a person typing a file names the people they add; an integration pushing a
    WeCom contact or an order's buyer may know only an id, and the profile fills in later."""
    cells = row(wecom="wm-nameless")
    by_import, imported = run_fresh(world, through_the_import, [cells])
    by_service, served = run_fresh(world, through_the_service, [cells])
    assert by_import == {2: {"name"}} and by_service == {}
    assert "" in served["members"] and "" not in imported["members"]


def test_an_answer_that_changes_nothing_is_evidence_for_the_service_only(world):
    """By design: set_consent keeps every answer a member gives as evidence; an import records the
    changes only, so importing an export again does not pile up records."""
    cells = row(pos="card-2", consent_marketing="granted")
    _refused, imported = run_fresh(world, through_the_import, [cells])
    _refused, served = run_fresh(world, through_the_service, [cells])
    assert imported["consents"] == served["consents"]
    assert "会员二" not in imported["consent_records"]
    assert served["consent_records"]["会员二"] == [("marketing", "all", True, "import", "", "alice", "")]


def test_spreadsheet_spellings_are_the_imports_alone(world):
    """By design: a file holds what people type into a spreadsheet (女, 2024/3/5, sh01, 是), which the
    import reads before applying the same rules; the API takes the stored forms only."""
    cells = row(name="拼写", phone="13900139050", gender="女", birthday="1990/5/1", home_store="sh01",
                attr_first_visit="2024/3/5")
    by_import, imported = run_fresh(world, through_the_import, [cells])
    by_service, _served = run_fresh(world, through_the_service, [cells])
    assert by_import == {}
    assert (imported["members"]["拼写"]["gender"], str(imported["members"]["拼写"]["birthday"])) == ("f", "1990-05-01")
    assert imported["attributes"]["拼写"] == {"first_visit": "2024-03-05"}
    assert by_service == {2: {"gender", "birthday", "home_store", "attr:first_visit"}}
