"""Demo data: the organisation of a believable chocolate brand, its regions, stores in several cities,
staff and the three demo logins. Each app's demo data (members first, then what is built on them)
comes from that app's demo.py, found by `seed_apps()`.

Deterministic and idempotent: running it again adds only what is missing, so it is safe on every
start.
"""

from __future__ import annotations

import inspect
import secrets
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

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

STAFF_NAMES = ["林晓", "周婷", "陈一鸣", "王佳", "刘畅", "赵敏", "孙悦", "吴迪", "郑爽", "何静", "高远", "罗琳"]

OPERATOR = "operator"


@dataclass
class DemoResult:
    stores: int
    staff: int
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


def seed_apps(**options) -> list[tuple[str, str]]:
    """Each app's demo data, from its demo.py (`seed() -> summary`), in INSTALLED_APPS order (members
    before the orders, tiers, points, commissions and figures computed from them); (app label,
    one-line summary) in order. An option goes to the seeds that take it by name: `members=` sets
    the size of the members' demo."""
    from django.apps import apps

    from scrm.apps import app_modules

    found = app_modules("demo", exclude=("scrm",))
    label = {config.name: config.label for config in apps.get_app_configs()}
    summaries = []
    for module in found:
        accepted = inspect.signature(module.seed).parameters
        summary = module.seed(**{name: value for name, value in options.items() if name in accepted})
        summaries.append((label[module.__name__.rpartition(".")[0]], summary))
    return summaries


def seed(*, password: str | None = None) -> DemoResult:
    """The regions, the stores and their staff, and the demo logins."""
    started = time.monotonic()
    password = password or demo_password()
    with transaction.atomic():
        stores = _seed_org()
        staff_by_store, logins = _seed_staff(stores, password)
    return DemoResult(
        stores=len(stores),
        staff=sum(len(v) for v in staff_by_store.values()) + 1,
        seconds=time.monotonic() - started,
        logins=logins,
    )


def demo_stores() -> list[Store]:
    """The demo stores in their fixed order (the one other apps' demo data is spread over); empty
    before the organisation is seeded."""
    by_code = {store.code: store for store in Store.objects.filter(code__in=[row[0] for row in STORES])}
    return [by_code[row[0]] for row in STORES if row[0] in by_code]


def store_teams(stores: list[Store]) -> dict[int, list[User]]:
    """Each demo store's staff by store id, its manager first, then its shopping guides in order."""
    wanted = _wanted_staff(stores)
    users = {u.username: u for u in User.objects.filter(username__in=[w[0] for w in wanted])}
    teams: dict[int, list[User]] = {}
    for username, _role, store, _display in wanted:
        if store is not None and username in users:
            teams.setdefault(store.pk, []).append(users[username])
    return teams


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
    wanted = _wanted_staff(stores)
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
    staff_by_store = store_teams(stores)
    first = stores[0].code.lower()
    logins = [
        (str(Role.OPERATOR.label), OPERATOR, password),
        (str(Role.STORE_MANAGER.label), f"{first}_manager", password),
        (str(Role.STORE_STAFF.label), f"{first}_staff1", password),
    ]
    return staff_by_store, logins


def _wanted_staff(stores: list[Store]) -> list[tuple[str, str, Store | None, str]]:
    """(username, role, store, display name): the operator, then per store its manager and two or
    three shopping guides."""
    wanted: list[tuple[str, str, Store | None, str]] = [(OPERATOR, Role.OPERATOR, None, "总部会员运营")]
    for i, store in enumerate(stores):
        code = store.code.lower()
        wanted.append((f"{code}_manager", Role.STORE_MANAGER, store, f"{STAFF_NAMES[i % len(STAFF_NAMES)]}（店长）"))
        for n in range(1, 3 + (i % 2) + 1):
            name = STAFF_NAMES[(i + n * 5) % len(STAFF_NAMES)]
            wanted.append((f"{code}_staff{n}", Role.STORE_STAFF, store, f"{name}（导购）"))
    return wanted
