"""Demo data: a believable chocolate brand with stores in several cities, their staff and members.

Deterministic (the same size always gives the same people) and idempotent: running it again adds
only what is missing, so it is safe on every start. Members go in through COPY into a temporary
table and one INSERT ... SELECT, which stays fast at a million rows.
"""

from __future__ import annotations

import io
import random
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import connection, transaction
from django.utils import timezone

from members.models import Member, Source, Stage
from scrm.models import Region, Role, Store, User

REGIONS = [
    ("east", "华东"),
    ("north", "华北"),
    ("south", "华南"),
    ("southwest", "西南"),
    ("central", "华中"),
]

# code, name, region, city, address, opened
STORES = [
    ("SH01", "上海南京西路店", "east", "上海", "静安区南京西路1266号恒隆广场B1", date(2016, 5, 1)),
    ("SH02", "上海徐家汇店", "east", "上海", "徐汇区虹桥路1号港汇恒隆广场L2", date(2018, 9, 15)),
    ("HZ01", "杭州湖滨银泰店", "east", "杭州", "上城区东坡路7号湖滨银泰in77 C区", date(2019, 4, 20)),
    ("NJ01", "南京新街口店", "east", "南京", "秦淮区中山南路1号德基广场", date(2020, 11, 8)),
    ("BJ01", "北京三里屯店", "north", "北京", "朝阳区三里屯路19号太古里南区", date(2017, 3, 18)),
    ("BJ02", "北京国贸店", "north", "北京", "朝阳区建国门外大街1号国贸商城", date(2021, 6, 1)),
    ("TJ01", "天津大悦城店", "north", "天津", "南开区南门外大街2号大悦城", date(2022, 1, 10)),
    ("GZ01", "广州天河城店", "south", "广州", "天河区天河路208号天河城", date(2018, 2, 14)),
    ("SZ01", "深圳万象城店", "south", "深圳", "罗湖区宝安南路1881号万象城", date(2019, 12, 24)),
    ("CD01", "成都太古里店", "southwest", "成都", "锦江区中纱帽街8号远洋太古里", date(2020, 5, 20)),
    ("CQ01", "重庆解放碑店", "southwest", "重庆", "渝中区民族路188号环球金融中心", date(2023, 7, 7)),
    ("WH01", "武汉楚河汉街店", "central", "武汉", "武昌区楚河汉街万达广场", date(2021, 10, 1)),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
SURNAME_WEIGHTS = [max(1, 60 - i) for i in range(len(SURNAMES))]
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红玲丹"
    "萌琳雪晨欣怡婷子涵梓轩宇浩然思雨佳琪若曦可馨嘉懿一诺梦瑶俊熙"
)
STAFF_NAMES = ["林晓", "周婷", "陈一鸣", "王佳", "刘畅", "赵敏", "孙悦", "吴迪", "郑爽", "何静", "高远", "罗琳"]
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

OPERATOR = "operator"


@dataclass
class DemoResult:
    stores: int
    staff: int
    members_added: int
    members_total: int
    seconds: float
    logins: list[tuple[str, str, str]]  # (role label, username, password)


def demo_password() -> str:
    """One random password for the demo logins, kept under var/ and never committed."""
    path = Path(settings.BASE_DIR) / "var" / "demo-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def seed(*, members: int = 2000, password: str | None = None) -> DemoResult:
    started = time.monotonic()
    password = password or demo_password()
    with transaction.atomic():
        stores = _seed_org()
        staff_by_store, logins = _seed_staff(stores, password)
    added = _seed_members(members, stores, staff_by_store)
    return DemoResult(
        stores=len(stores),
        staff=sum(len(v) for v in staff_by_store.values()) + 1,
        members_added=added,
        members_total=Member.objects.count(),
        seconds=time.monotonic() - started,
        logins=logins,
    )


def _seed_org() -> list[Store]:
    regions = {}
    for code, name in REGIONS:
        regions[code], _ = Region.objects.get_or_create(code=code, defaults={"name": name})
    stores = []
    for code, name, region, city, address, opened in STORES:
        store, _ = Store.objects.get_or_create(
            code=code,
            defaults={"name": name, "region": regions[region], "city": city, "address": address, "opened_on": opened},
        )
        stores.append(store)
    return stores


def _seed_staff(stores: list[Store], password: str):
    """Operator, then per store a manager and two or three shopping guides, all with the demo
    password. The password is hashed once (hashing is slow on purpose) and shared by the rows."""
    wanted: list[tuple[str, str, Store | None, str]] = [(OPERATOR, Role.OPERATOR, None, "总部会员运营")]
    for i, store in enumerate(stores):
        code = store.code.lower()
        wanted.append((f"{code}_manager", Role.STORE_MANAGER, store, f"{STAFF_NAMES[i % len(STAFF_NAMES)]}（店长）"))
        for n in range(1, 3 + (i % 2) + 1):
            name = STAFF_NAMES[(i + n * 5) % len(STAFF_NAMES)]
            wanted.append((f"{code}_staff{n}", Role.STORE_STAFF, store, f"{name}（导购）"))
    usernames = [w[0] for w in wanted]
    existing = {u.username: u for u in User.objects.filter(username__in=usernames)}
    operator = existing.get(OPERATOR)
    if operator and check_password(password, operator.password):
        encoded = operator.password
    else:
        encoded = make_password(password)
    User.objects.bulk_create(
        [
            User(
                username=username,
                role=role,
                store=store,
                display_name=display,
                password=encoded,
                is_staff=role == Role.OPERATOR,
                is_superuser=role == Role.OPERATOR,
            )
            for username, role, store, display in wanted
            if username not in existing
        ]
    )
    User.objects.filter(username__in=usernames).exclude(password=encoded).update(password=encoded)
    users = {u.username: u for u in User.objects.filter(username__in=usernames)}
    staff_by_store: dict[int, list[User]] = {}
    for username, _role, store, _display in wanted:
        if store is not None:
            staff_by_store.setdefault(store.pk, []).append(users[username])
    first = stores[0].code.lower()
    logins = [
        (str(Role.OPERATOR.label), OPERATOR, password),
        (str(Role.STORE_MANAGER.label), f"{first}_manager", password),
        (str(Role.STORE_STAFF.label), f"{first}_staff1", password),
    ]
    return staff_by_store, logins


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
