"""Demo members of the demo chocolate brand, spread over the demo stores (scrm/demo.py) and owned
by their shopping guides, with tags, identities, custom attributes, consent, staff relations and
service notes.

Deterministic (the same size always gives the same people) and idempotent: running it again adds
only what is missing. Members go in through COPY into a temporary table and one INSERT ... SELECT,
which stays fast at a million rows.
"""

from __future__ import annotations

import io
import random
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from members import sql as members_sql
from members.models import AttributeDefinition, Identity, Member, Source, Stage, Tag, TagGroup
from scrm import demo as organisation
from scrm import sql as scrm_sql
from scrm.models import Store, User

DEFAULT_MEMBERS = 2000

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
SURNAME_WEIGHTS = [max(1, 60 - i) for i in range(len(SURNAMES))]
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红玲丹"
    "萌琳雪晨欣怡婷子涵梓轩宇浩然思雨佳琪若曦可馨嘉懿一诺梦瑶俊熙"
)
MOBILE_PREFIXES = [
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "176",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "199",
]
STAGE_WEIGHTS = [(Stage.AWARE, 34), (Stage.APPEAL, 25), (Stage.ASK, 18), (Stage.ACT, 16), (Stage.ADVOCATE, 7)]
SOURCE_WEIGHTS = [
    (Source.STORE_QR, 46),
    (Source.ORDER, 22),
    (Source.AD, 10),
    (Source.REFERRAL, 12),
    (Source.EVENT, 8),
    (Source.IMPORT, 2),
]
# A few flagship stores hold most members, as in real chains.
STORE_WEIGHTS = [18, 11, 9, 6, 15, 7, 4, 10, 9, 6, 2, 3]


def seed(*, members: int = DEFAULT_MEMBERS) -> str:
    """Grow the demo members to `members` (adding only the missing ones), then give the new ones
    their profiles; returns a one-line summary."""
    stores = organisation.demo_stores()
    if not stores:
        return "members: no demo stores to join (seed the organisation first)"
    before = Member.objects.order_by("-id").values_list("id", flat=True).first() or 0
    added = _seed_members(members, stores, organisation.store_teams(stores))
    with transaction.atomic():
        enrich_members(after_id=before)
    return f"members: {Member.objects.count()} members ({added} added) with tags, identities, consent and notes"


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def member_rows(count: int, stores: list[Store], staff_by_store: dict[int, list[User]], now: datetime):
    """Yield `count` deterministic member rows as tuples in COPY column order."""
    rng = random.Random(20240601)
    store_weights = (STORE_WEIGHTS * (len(stores) // len(STORE_WEIGHTS) + 1))[: len(stores)]
    two_years = 730 * 24 * 3600
    for i in range(count):
        surname = rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
        given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
        gender = rng.choices("fmu", weights=(62, 30, 8))[0]
        # Multiplying by a number coprime with 10^8 is a bijection: every member's number is unique.
        phone = f"+86{rng.choice(MOBILE_PREFIXES)}{(i * 48271 + 10000019) % 100_000_000:08d}"
        birthday = (
            "" if rng.random() < 0.35 else (date(1965, 1, 1) + timedelta(days=rng.randrange(0, 365 * 42))).isoformat()
        )
        store = rng.choices(stores, weights=store_weights)[0]
        team = staff_by_store[store.pk]
        owner = team[rng.randrange(1, len(team))] if rng.random() < 0.85 else team[0]
        # Recent joins are more common: a brand's pool keeps growing.
        age = int(two_years * (rng.random() ** 1.8))
        created = now - timedelta(seconds=age)
        yield (
            surname + given,
            phone,
            gender,
            birthday,
            store.pk,
            owner.pk,
            _weighted(rng, SOURCE_WEIGHTS),
            _weighted(rng, STAGE_WEIGHTS),
            created.isoformat(),
        )


def _seed_members(count: int, stores: list[Store], staff_by_store: dict[int, list[User]]) -> int:
    if count <= 0:
        return 0
    now = timezone.now().replace(microsecond=0)
    columns = "name, phone, gender, birthday, home_store_id, owner_id, source, stage, created_at"
    with transaction.atomic(), connection.cursor() as cursor:
        # ON COMMIT DROP only fires on a real commit: inside an outer transaction (a test, a caller's
        # atomic block) the table from an earlier run is still there.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.demo_member")
        cursor.execute(
            "CREATE TEMP TABLE demo_member (name text, phone text, gender text, birthday date, "
            "home_store_id bigint, owner_id bigint, source text, stage text, created_at timestamptz) ON COMMIT DROP"
        )
        raw = cursor.connection.cursor()
        buffer = io.StringIO()
        for n, row in enumerate(member_rows(count, stores, staff_by_store, now), start=1):
            buffer.write("\t".join("\\N" if v == "" and idx == 3 else str(v) for idx, v in enumerate(row)))
            buffer.write("\n")
            if n % 100_000 == 0:
                buffer.seek(0)
                raw.copy_expert(f"COPY demo_member ({columns}) FROM STDIN", buffer)
                buffer = io.StringIO()
        buffer.seek(0)
        raw.copy_expert(f"COPY demo_member ({columns}) FROM STDIN", buffer)
        cursor.execute(
            f"""
            INSERT INTO members_member ({columns}, updated_at, attributes)
            SELECT d.name, d.phone, d.gender, d.birthday, d.home_store_id, d.owner_id, d.source, d.stage,
                   d.created_at, d.created_at, '{{}}'::jsonb
            FROM demo_member d
            WHERE NOT EXISTS (SELECT 1 FROM members_member m WHERE m.phone = d.phone)
            ORDER BY d.created_at
            """
        )
        return cursor.rowcount


# Tag vocabulary of a chocolate brand: (group, multiple choice, [(tag, share of members in 1000)]).
TAG_GROUPS = [
    ("口味偏好", True, [("黑巧", 420), ("牛奶巧", 380), ("白巧", 120), ("坚果夹心", 240), ("低糖", 90)]),
    ("购买场景", True, [("节日送礼", 510), ("自用解馋", 460), ("办公室分享", 180), ("儿童零食", 150),
                       ("婚礼喜糖", 25)]),
    ("价格敏感度", False, [("高", 300), ("中", 500), ("低", 200)]),
    ("渠道偏好", True, [("门店", 550), ("天猫", 330), ("抖音直播", 210), ("小程序", 260), ("小红书", 80)]),
    ("兴趣社群", True, [("烘焙同好", 60), ("亲子手作", 45), ("跑步", 30), ("咖啡", 70)]),
    ("人群", True, [("宝妈", 140), ("学生", 110), ("白领", 350), ("企业采购", 12)]),
]

ATTRIBUTES = [
    # code, label, type, choices, sensitive
    ("dialect", "方言", "choice", ["普通话", "粤语", "上海话", "四川话", "闽南语"], False),
    ("favourite_cacao", "偏好可可含量", "choice", ["35%", "55%", "70%", "85%", "99%"], False),
    ("child_birth_month", "孩子出生年月", "month", [], True),
    ("allergy", "过敏信息", "text", [], True),
]

NOTES = [
    ("visit", "周末常带孩子来店，偏爱 70% 黑巧"),
    ("note", "对坚果过敏，推荐时避开榛子系列"),
    ("follow_up", "咨询了情人节礼盒，2 月初提醒到店自提"),
    ("call", "企业团购需求，约下周电话沟通数量与发票"),
    ("visit", "喜欢尝新品，新口味上市第一时间通知"),
]


def enrich_members(*, after_id: int = 0) -> None:
    """Tags, identities, attributes, consents, staff relations and notes for the demo members added
    after `after_id`, chosen deterministically from each member's phone. Reruns find nothing new."""
    tag_ids = _ensure_vocabulary()
    if not Identity.objects.exists():
        after_id = 0  # members seeded before profiles existed get theirs too
    live = f"{members_sql.live('m')} AND m.phone <> '' AND m.id > {int(after_id)}"
    with connection.cursor() as cursor:
        _seed_tags(cursor, live, tag_ids)
        _seed_identities(cursor, live)
        _seed_attributes(cursor, live)
        _seed_consent(cursor, live)
        _seed_owner_relations(cursor, live)
        _seed_notes(cursor, live)


def _ensure_vocabulary() -> dict[tuple[str, str], int]:
    """The demo tag groups, tags and attribute definitions; {(group, tag): tag id}."""
    for order, (group_name, multiple, tags) in enumerate(TAG_GROUPS):
        group, _ = TagGroup.objects.get_or_create(
            name=group_name, defaults={"multiple": multiple, "sort_order": order}
        )
        for tag_name, _share in tags:
            Tag.objects.get_or_create(group=group, name=tag_name)
    for order, (code, label, kind, choices, sensitive) in enumerate(ATTRIBUTES):
        AttributeDefinition.objects.get_or_create(
            code=code,
            defaults={"label": label, "type": kind, "choices": choices, "sensitive": sensitive, "sort_order": order},
        )
    return {(t.group.name, t.name): t.pk for t in Tag.objects.select_related("group")}


def _seed_tags(cursor, live: str, tag_ids: dict) -> None:
    """Tags by share of members; a single-choice group gives each member at most one of its tags."""
    for group_name, multiple, tags in TAG_GROUPS:
        if multiple:
            for tag_name, share in tags:
                cursor.execute(
                    f"""INSERT INTO members_membertag (member_id, tag_id, source, added_by_id, added_at)
                    SELECT m.id, %s, 'manual', m.owner_id, LEAST(now(), m.created_at + interval '1 day')
                    FROM members_member m
                    WHERE {live} AND abs(hashtext(m.phone || %s)) %% 1000 < %s
                    ON CONFLICT (member_id, tag_id) DO NOTHING""",
                    [tag_ids[(group_name, tag_name)], tag_name, share],
                )
        else:
            # Single choice: each member gets at most one tag of the group, by cumulative share.
            bounds, total = [], 0
            for tag_name, share in tags:
                bounds.append((total, total + share, tag_ids[(group_name, tag_name)]))
                total += share
            cases = " ".join(f"WHEN b >= {lo} AND b < {hi} THEN {tid}" for lo, hi, tid in bounds)
            cursor.execute(
                f"""INSERT INTO members_membertag (member_id, tag_id, source, added_by_id, added_at)
                SELECT id, tag_id, 'manual', owner_id, LEAST(now(), created_at + interval '2 days') FROM (
                    SELECT m.id, m.owner_id, m.created_at, CASE {cases} END AS tag_id
                    FROM (SELECT m.*, abs(hashtext(m.phone || %s)) %% 1000 AS b FROM members_member m
                          WHERE {live}) m
                    WHERE NOT EXISTS (
                        SELECT 1 FROM members_membertag mt JOIN members_tag t ON t.id = mt.tag_id
                        WHERE mt.member_id = m.id AND t.group_id = (
                            SELECT group_id FROM members_tag WHERE id = %s))
                ) picked WHERE tag_id IS NOT NULL
                ON CONFLICT (member_id, tag_id) DO NOTHING""",
                [group_name, bounds[0][2]],
            )


def _seed_identities(cursor, live: str) -> None:
    """Every phone, WeCom for 72%, WeChat unionid for 61%, mini-program for 38%."""
    for channel, namespace, share, prefix in (
        ("phone", "", 1000, ""),
        ("wecom", "", 720, "wm"),
        ("wechat_unionid", "", 610, "oU"),
        ("miniprogram", "wx5f1c9d2e7a", 380, "oM"),
    ):
        external = "m.phone" if channel == "phone" else f"'{prefix}' || md5(m.phone || '{channel}')"
        cursor.execute(
            f"""INSERT INTO members_identity (member_id, channel, namespace, external_id, created_at)
            SELECT m.id, %s, %s, {external}, m.created_at FROM members_member m
            WHERE {live} AND abs(hashtext(m.phone || %s)) %% 1000 < %s
            ON CONFLICT (channel, namespace, external_id) DO NOTHING""",
            [channel, namespace, channel, share],
        )


def _seed_attributes(cursor, live: str) -> None:
    """Attributes for some members; the sensitive ones only with sensitive-data consent."""
    cursor.execute(
        f"""UPDATE members_member m SET attributes = jsonb_build_object(
                'dialect',
                (ARRAY['普通话','粤语','上海话','四川话','闽南语'])[1 + abs(hashtext(m.phone || 'd')) %% 5],
                'favourite_cacao',
                (ARRAY['35%%','55%%','70%%','85%%','99%%'])[1 + abs(hashtext(m.phone || 'c')) %% 5])
            WHERE {live} AND m.attributes = '{{}}'::jsonb AND abs(hashtext(m.phone || 'attr')) %% 100 < 45""",
        [],
    )


def _seed_consent(cursor, live: str) -> None:
    """Marketing on all channels for 82%, withdrawn on WeCom for 4%, sensitive data for 20%; then the
    child's birth month (a sensitive attribute) for half of those who consented to sensitive data."""
    for purpose, channel, granted, share, salt in (
        ("marketing", "all", True, 820, "mk"),
        ("marketing", "wecom", False, 40, "wd"),
        ("sensitive_data", "all", True, 200, "sd"),
    ):
        cursor.execute(
            f"""WITH chosen AS (
                    SELECT m.id, m.created_at FROM members_member m
                    WHERE {live} AND abs(hashtext(m.phone || %s)) %% 1000 < %s),
                added AS (
                    INSERT INTO members_consent (member_id, purpose, channel, granted, updated_at)
                    SELECT id, %s, %s, %s, created_at FROM chosen
                    ON CONFLICT (member_id, purpose, channel) DO NOTHING RETURNING member_id, updated_at)
            INSERT INTO members_consentrecord
                (member_id, purpose, channel, granted, source, evidence, recorded_at)
            SELECT member_id, %s, %s, %s, 'store', '门店入会登记', updated_at FROM added""",
            [salt, share, purpose, channel, granted, purpose, channel, granted],
        )
    cursor.execute(
        f"""UPDATE members_member m SET attributes = m.attributes || jsonb_build_object(
                'child_birth_month', to_char(date '2019-01-01' + (abs(hashtext(m.phone)) %% 2000), 'YYYY-MM'))
            FROM members_consent c
            WHERE c.member_id = m.id AND c.purpose = 'sensitive_data' AND c.granted AND {live}
              AND NOT m.attributes ? 'child_birth_month' AND abs(hashtext(m.phone || 'kid')) %% 100 < 50""",
        [],
    )


def _seed_owner_relations(cursor, live: str) -> None:
    """The owner's WeCom relation, added through the store's QR code."""
    cursor.execute(
        f"""INSERT INTO members_staffrelation (member_id, staff_id, store_id, add_way, state, remark,
                description, is_owner, added_at)
            SELECT m.id, m.owner_id, m.home_store_id, 'qr', s.code || '-QR', m.name, '', true, m.created_at
            FROM members_member m JOIN {scrm_sql.STORE} s ON s.id = m.home_store_id
            WHERE {live} AND m.owner_id IS NOT NULL
            ON CONFLICT DO NOTHING"""
    )


def _seed_notes(cursor, live: str) -> None:
    """A few service notes (one in six members) from their shopping guide."""
    for i, (kind, body) in enumerate(NOTES):
        cursor.execute(
            f"""INSERT INTO members_servicenote (member_id, author_id, store_id, kind, body, pinned, created_at)
            SELECT m.id, m.owner_id, m.home_store_id, %s, %s, false, LEAST(now(), m.created_at + interval '3 days')
            FROM members_member m
            WHERE {live} AND abs(hashtext(m.phone || 'note')) %% 30 = %s
              AND NOT EXISTS (SELECT 1 FROM members_servicenote n WHERE n.member_id = m.id AND n.body = %s)""",
            [kind, body, i, body],
        )
