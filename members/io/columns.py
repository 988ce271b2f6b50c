"""The columns an import file may have, their Chinese aliases, and the header parser.

A header cell is a profile field (name, phone, gender, birthday, home_store, owner, source, stage),
an identity (`wecom`, `wechat_unionid`, `pos`, `miniprogram:<appid>`, `tmall:<shop>`...), `tags`
("group:tag;group:tag") or a custom attribute (`attr:<code>`). The same keys head the columns of an
export, so an exported file can be edited and imported again."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import AttributeDefinition, Channel, Gender, Source, Stage

FIELDS = ("name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage")
MAX_COLUMNS = 200
MAX_ATTRIBUTE_COLUMNS = 40

# Brand-wide ids carry no namespace; the others may name the app or shop ("miniprogram:wx5f1c").
NO_NAMESPACE = {Channel.WECHAT_UNIONID}
IDENTITY_CHANNELS = [c for c in Channel.values if c != Channel.PHONE]  # the phone has its own column

ALIASES = {
    "name": ["name", "姓名", "名字", "会员姓名"],
    "phone": ["phone", "mobile", "手机号", "手机", "手机号码", "电话"],
    "gender": ["gender", "sex", "性别"],
    "birthday": ["birthday", "生日", "出生日期"],
    "home_store": ["home_store", "store", "门店", "所属门店", "门店编码", "门店代码"],
    "owner": ["owner", "导购", "专属导购", "所属导购"],
    "source": ["source", "来源"],
    "stage": ["stage", "5a", "5a阶段", "阶段"],
    "tags": ["tags", "tag", "标签"],
}
CHANNEL_ALIASES = {
    Channel.WECOM: ["企业微信"],
    Channel.WECHAT_UNIONID: ["unionid"],
    Channel.WECHAT_OPENID: ["openid", "公众号"],
    Channel.MINIPROGRAM: ["小程序"],
    Channel.TMALL: ["天猫"],
    Channel.DOUYIN: ["抖音"],
    Channel.XIAOHONGSHU: ["小红书"],
    Channel.POS: ["pos会员卡", "会员卡号", "会员卡"],
}
ATTRIBUTE_PREFIXES = ("attr:", "属性:")

DESCRIPTIONS = {
    "name": gettext_lazy("Member's name (required for a new member), at most 64 characters."),
    "phone": gettext_lazy("Mobile number, e.g. 13800138000 or +86 138 0013 8000; also identifies the member."),
    "gender": gettext_lazy("f / m / u (or 女 / 男 / 未知)."),
    "birthday": gettext_lazy("YYYY-MM-DD."),
    "home_store": gettext_lazy("Store code, e.g. SH01. A store manager imports into their own store only."),
    "owner": gettext_lazy("Username of the shopping guide; must work at the member's store."),
    "source": gettext_lazy("How the member joined: store_qr, order, ad, referral, event, import, other."),
    "stage": gettext_lazy("5A stage: aware, appeal, ask, act, advocate."),
    "tags": gettext_lazy("Existing tags as group:tag pairs separated by ';', e.g. 奶粉品牌:A2;方言:粤语."),
    "identity": gettext_lazy("An id on this channel; add :namespace for an app or shop, e.g. miniprogram:wx5f1c."),
    "attr": gettext_lazy("attr:<code>: a custom attribute, checked against its type."),
}


class HeaderError(ValueError):
    """The header cannot be used; `errors` lists (column number, header text, message)."""

    def __init__(self, errors: list[tuple[int, str, str]]) -> None:
        super().__init__("; ".join(message for _n, _h, message in errors))
        self.errors = errors


@dataclass
class Column:
    index: int  # 0-based position in the file
    header: str  # as written in the file
    kind: str  # a FIELDS name, "identity", "tags" or "attr"
    channel: str = ""
    namespace: str = ""
    attribute: AttributeDefinition | None = None

    @property
    def key(self) -> str:
        """The canonical header (what an export writes)."""
        if self.kind == "identity":
            return f"{self.channel}:{self.namespace}" if self.namespace else self.channel
        if self.kind == "attr":
            return f"attr:{self.attribute.code}"
        return self.kind

    @property
    def sql_name(self) -> str:
        return f"v{self.index}"


@dataclass
class Layout:
    columns: list[Column]
    width: int  # cells per row in the file (columns we ignore included)
    by_kind: dict[str, Column] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for column in self.columns:
            if column.kind in FIELDS or column.kind == "tags":
                self.by_kind[column.kind] = column

    def get(self, kind: str) -> Column | None:
        return self.by_kind.get(kind)

    @property
    def identities(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "identity"]

    @property
    def attributes(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "attr"]


def _normal(text: str) -> str:
    text = (text or "").replace("\ufeff", "").strip()
    text = text.replace("：", ":")
    return re.sub(r"\s+", " ", text).lower()


_FIELD_BY_ALIAS = {alias: kind for kind, aliases in ALIASES.items() for alias in aliases}
_CHANNEL_BY_ALIAS = {c: c for c in IDENTITY_CHANNELS} | {
    alias: channel for channel, aliases in CHANNEL_ALIASES.items() for alias in aliases
}


def parse_header(cells: list, definitions: dict[str, AttributeDefinition] | None = None) -> Layout:
    """The layout of a file from its header row; HeaderError names every unusable column."""
    if definitions is None:
        definitions = {d.code: d for d in AttributeDefinition.objects.filter(is_active=True)}
    errors: list[tuple[int, str, str]] = []
    columns: list[Column] = []
    seen: dict[str, int] = {}
    cells = [("" if c is None else str(c)) for c in cells]
    while cells and not cells[-1].strip():
        cells.pop()  # trailing empty header cells: spreadsheets leave them behind
    if not cells:
        raise HeaderError([(1, "", _("The first row must name the columns (name, phone, tags...)."))])
    if len(cells) > MAX_COLUMNS:
        raise HeaderError([(MAX_COLUMNS + 1, cells[MAX_COLUMNS], _("At most %(max)d columns.") % {"max": MAX_COLUMNS})])
    for index, raw in enumerate(cells):
        text = _normal(raw)
        number = index + 1
        if not text:
            errors.append((number, raw, _("Column %(number)d has no name.") % {"number": number}))
            continue
        column = None
        if text in _FIELD_BY_ALIAS:
            column = Column(index, raw, _FIELD_BY_ALIAS[text])
        elif text.startswith(ATTRIBUTE_PREFIXES):
            code = text.split(":", 1)[1].strip()
            definition = definitions.get(code)
            if definition is None:
                errors.append((number, raw, _("Unknown custom attribute “%(code)s”.") % {"code": code}))
                continue
            column = Column(index, raw, "attr", attribute=definition)
        else:
            name, _sep, namespace = text.partition(":")
            channel = _CHANNEL_BY_ALIAS.get(name.strip())
            namespace = raw.replace("：", ":").partition(":")[2].strip()  # keep the namespace's own case
            if channel is None:
                errors.append((number, raw, _("Unknown column “%(header)s”.") % {"header": raw.strip()}))
                continue
            if channel in NO_NAMESPACE and namespace:
                errors.append((number, raw, _("A %(channel)s id has no namespace; name the column %(channel)s.")
                               % {"channel": channel}))
                continue
            if len(namespace) > 64:
                errors.append((number, raw, _("The namespace may have at most 64 characters.")))
                continue
            column = Column(index, raw, "identity", channel=channel, namespace=namespace)
        if column.key in seen:
            errors.append((number, raw, _("Column “%(header)s” repeats column %(other)d.")
                           % {"header": raw.strip(), "other": seen[column.key]}))
            continue
        seen[column.key] = number
        columns.append(column)
    layout = Layout(columns=columns, width=len(cells))
    if len(layout.attributes) > MAX_ATTRIBUTE_COLUMNS:
        errors.append((1, "", _("At most %(max)d attribute columns.") % {"max": MAX_ATTRIBUTE_COLUMNS}))
    if not errors and layout.get("phone") is None and not layout.identities:
        errors.append((1, "", _("Name at least one column that identifies members: phone, %(channels)s.")
                       % {"channels": ", ".join(IDENTITY_CHANNELS)}))
    if errors:
        raise HeaderError(errors)
    return layout


def choice_values(choices) -> dict[str, str]:
    """Accepted spellings (code, English and Chinese label, lower-cased) -> code."""
    accepted: dict[str, str] = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for value, label in choices:
                accepted[str(label).strip().lower()] = value
    for value, _label in choices:
        accepted[value.lower()] = value
    return accepted


def gender_values() -> dict[str, str]:
    values = choice_values(Gender.choices)
    values.update({"女": Gender.FEMALE, "男": Gender.MALE, "未知": Gender.UNKNOWN, "female": Gender.FEMALE,
                   "male": Gender.MALE, "unknown": Gender.UNKNOWN})
    return values


def source_values() -> dict[str, str]:
    return choice_values(Source.choices)


def stage_values() -> dict[str, str]:
    return choice_values(Stage.choices)


def template_columns(definitions=None) -> list[tuple[str, str]]:
    """(header, description) of every column the template offers."""
    if definitions is None:
        definitions = list(AttributeDefinition.objects.filter(is_active=True))
    columns = [(name, str(DESCRIPTIONS[name])) for name in FIELDS]
    for channel in (Channel.WECOM, Channel.WECHAT_UNIONID, Channel.POS):
        columns.append((channel, str(Channel(channel).label)))
    columns.append(("tags", str(DESCRIPTIONS["tags"])))
    for definition in definitions:
        description = f"{definition.label} ({definition.get_type_display()})"
        if definition.choices:
            description += ": " + " / ".join(definition.choices)
        if definition.sensitive or definition.requires_guardian:
            description += " — " + _("needs the member's consent; only members who gave it can take a value")
        columns.append((f"attr:{definition.code}", description))
    return columns
