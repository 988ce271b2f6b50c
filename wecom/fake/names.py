"""Believable people and words for the local WeCom server's simulated corp: Chinese names, English
nicknames, remarks, companies, the corp tag list and the demo staff."""

from __future__ import annotations

import random

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_FEMALE = "婷静丽敏燕艳娟霞芳娜琳雪颖倩欣怡梦晨佳悦瑶琪蕾薇妍菲馨露月彤萱雯洁慧"
GIVEN_MALE = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳博文晨峰"
ENGLISH = [
    "Amy",
    "Lily",
    "Cindy",
    "Coco",
    "Grace",
    "Helen",
    "Iris",
    "Jenny",
    "Kelly",
    "Linda",
    "Lucy",
    "Maggie",
    "Nancy",
    "Olivia",
    "Sunny",
    "Tina",
    "Vivian",
    "Wendy",
    "Yoyo",
    "Zoe",
    "Alex",
    "Ben",
    "David",
    "Eric",
    "Frank",
    "Jack",
    "Kevin",
    "Leo",
    "Mike",
    "Peter",
    "Sam",
    "Tom",
    "Vincent",
]
NICK_SUFFIX = ["", "", "🌸", "~", "妈妈", "的小店", "_SH", "😊"]
REMARK_NOTES = [
    "二胎妈妈",
    "宝妈 月龄8个月",
    "老客户",
    "喜欢跑步",
    "周末来店",
    "孕期32周",
    "VIP",
    "同事介绍",
    "露营爱好者",
    "价格敏感",
    "爱买新品",
    "双胞胎妈妈",
    "",
]
DESCRIPTIONS = [
    "",
    "",
    "对有机奶粉感兴趣",
    "上次买了推车，想要配件",
    "住在门店附近，常来逛",
    "参加过亲子活动",
    "咨询过会员积分",
    "想了解骑行装备",
    "生日在三月",
]
COMPANIES = ["上海晨曦文化传媒有限公司", "杭州云栖科技有限公司", "北京拾光母婴用品有限公司", "深圳蓝湾贸易有限公司"]
POSITIONS = ["采购经理", "店长", "市场总监", "行政专员", ""]

# The corp's customer tags: (group name, [tag names]); the store group is filled from the stores.
TAG_GROUPS = [
    ("宝宝月龄", ["孕期", "0-6月", "6-12月", "1-3岁", "3岁以上"]),
    ("会员等级", ["普通会员", "银卡会员", "金卡会员", "黑金会员"]),
    ("兴趣", ["跑步", "骑行", "露营", "瑜伽", "烘焙", "亲子游", "绘本"]),
    ("客户来源", ["门店活码", "朋友推荐", "直播间", "小红书"]),
]
STORE_GROUP = "门店"

# Customer groups of a store: interest groups (running, cycling, parent-and-child…) and member perks.
GROUP_CHAT_NAMES = [
    "{store}跑步打卡群", "{store}会员福利群", "{store}骑行俱乐部", "{store}亲子成长群", "{store}宝妈交流群",
    "{store}周末露营群", "{store}瑜伽晨练群", "{store}新品体验官",
]
GROUP_NOTICES = [
    "欢迎加入！每周六早7点集合晨跑，群内分享路线与配速。",
    "会员专属福利群：新品、积分兑换和门店活动第一时间通知。",
    "周日骑行，请自备头盔；活动报名请找群主。",
    "亲子活动每月两次，报名请留言宝宝月龄。",
    "文明交流，请勿发布广告。",
]

# scrm.demo's stores and staff, so the demo's WeCom corp follows the same people by default.
DEMO_STORES = [
    ("SH01", "上海南京西路店"),
    ("SH02", "上海徐家汇店"),
    ("HZ01", "杭州湖滨银泰店"),
    ("NJ01", "南京新街口店"),
    ("BJ01", "北京三里屯店"),
    ("BJ02", "北京国贸店"),
    ("TJ01", "天津大悦城店"),
    ("GZ01", "广州天河城店"),
    ("SZ01", "深圳万象城店"),
    ("CD01", "成都太古里店"),
    ("CQ01", "重庆解放碑店"),
    ("WH01", "武汉楚河汉街店"),
]


def demo_staff() -> list[str]:
    """The demo's store managers and shopping guides, as scrm.demo names them."""
    userids = []
    for i, (code, _name) in enumerate(DEMO_STORES):
        low = code.lower()
        userids.append(f"{low}_manager")
        userids.extend(f"{low}_staff{n}" for n in range(1, 3 + (i % 2) + 1))
    return userids


def demo_states() -> list[str]:
    return [f"store:{code}" for code, _ in DEMO_STORES]


def person(rng: random.Random) -> tuple[str, str, int]:
    """(name, surname, gender) with gender 1 male / 2 female / 0 unknown; some use English nicknames."""
    surname = rng.choice(SURNAMES)
    gender = rng.choices((1, 2, 0), weights=(30, 62, 8))[0]
    pool = GIVEN_MALE if gender == 1 else GIVEN_FEMALE
    given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.6 else "")
    roll = rng.random()
    if roll < 0.12:
        name = rng.choice(ENGLISH) + rng.choice(NICK_SUFFIX)
    elif roll < 0.17:
        name = rng.choice(ENGLISH) + surname
    else:
        name = surname + given
    return name, surname, gender


def remark(rng: random.Random, surname: str, gender: int) -> str:
    if rng.random() < 0.35:
        return ""
    title = "先生" if gender == 1 else "女士"
    note = rng.choice(REMARK_NOTES)
    return f"{surname}{title} {note}".strip()


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def store_of(userid: str) -> str | None:
    """The store code a demo userid belongs to (sh01_staff1 -> SH01), if it names one."""
    head = userid.split("_", 1)[0].upper()
    return head if head in {code for code, _ in DEMO_STORES} else None


def store_name(code: str) -> str:
    return dict(DEMO_STORES).get(code, code)
