"""The columns an import file may have, their Chinese aliases, and the header parser.

A header cell is a profile field (name, phone, gender, birthday, home_store, owner, source, stage),
an identity (`wecom`, `wechat_unionid`, `pos`, `miniprogram:<appid>`, `tmall:<shop>`...), `tags`
("group:tag;group:tag"), a custom attribute (`attr:<code>`) or a consent (`consent:marketing:sms`).
The same keys head the columns of an export, so an exported file can be edited and imported again;
the namespace of an identity is in the header, so a cell is the id as stored ('/' and all)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import AttributeDefinition, Channel, ConsentChannel, ConsentPurpose, Gender, Source, Stage
from members.services import consent, identities
from members.services.profile import NAME_MAX
from scrm.files import preview

FIELDS = ("name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage")
MAX_COLUMNS = 200
MAX_ATTRIBUTE_COLUMNS = 40

# Brand-wide ids carry no namespace; the others may name the app or shop ("miniprogram:wx5f1c").
NO_NAMESPACE = identities.BRAND_WIDE - {Channel.PHONE}  # the phone has its own column
IDENTITY_CHANNELS = [c for c in Channel.values if c != Channel.PHONE]  # the phone has its own column

# The one table of column names: key -> (header of a Chinese export, other spellings an import takes).
# An export writes the key (English) or the Chinese header, and the import reads both, so every
# export imports back as it is. `id` and `created_at` are written by exports and ignored by imports.
HEADERS_ZH = {
    "id": ("会员ID", ["member id", "会员id", "会员编号"]),
    "name": ("姓名", ["名字", "会员姓名"]),
    "phone": ("手机号", ["mobile", "手机", "手机号码", "电话"]),
    "gender": ("性别", ["sex"]),
    "birthday": ("生日", ["出生日期"]),
    "home_store": ("门店", ["store", "所属门店", "门店编码", "门店代码"]),
    "owner": ("导购", ["专属导购", "所属导购"]),
    "source": ("来源", []),
    "stage": ("5A阶段", ["5a", "阶段"]),
    "created_at": ("入会时间", ["joined at", "注册时间"]),
    "tags": ("标签", ["tag"]),
}
READ_ONLY = ("id", "created_at")
ALIASES = {key: [key, zh, *more] for key, (zh, more) in HEADERS_ZH.items()}
CHANNEL_HEADERS_ZH = {
    Channel.WECOM: ("企业微信", []),
    Channel.WECHAT_UNIONID: ("unionid", []),
    Channel.WECHAT_OPENID: ("公众号openid", ["openid", "公众号"]),
    Channel.MINIPROGRAM: ("小程序", []),
    Channel.TMALL: ("天猫", []),
    Channel.DOUYIN: ("抖音", []),
    Channel.XIAOHONGSHU: ("小红书", []),
    Channel.POS: ("会员卡号", ["pos会员卡", "会员卡"]),
}
CHANNEL_ALIASES = {channel: [zh, *more] for channel, (zh, more) in CHANNEL_HEADERS_ZH.items()}

# Consent columns: consent:<purpose> (every channel) or consent:<purpose>:<channel>, in Chinese
# 营销同意 / 营销同意:短信. Cells: granted / withdrawn (同意 / 撤回...); an empty cell changes nothing.
# Sensitive-data and guardian consent are recorded on the member's profile, not imported.
CONSENT_PREFIX = "consent"
CONSENT_PURPOSES_ZH = {
    ConsentPurpose.MARKETING: ("营销同意", ["营销授权"]),
    ConsentPurpose.PROFILING: ("个性化推荐同意", ["个性化推荐"]),
}
CONSENT_CHANNELS_ZH = {
    ConsentChannel.ALL: "全部渠道", ConsentChannel.WECOM: "企业微信", ConsentChannel.SMS: "短信",
    ConsentChannel.WECHAT: "微信", ConsentChannel.EMAIL: "邮件", ConsentChannel.PHONE_CALL: "电话",
}
CONSENT_VALUES = {
    **dict.fromkeys(("granted", "grant", "yes", "y", "true", "1", "同意", "已同意", "是", "授权"), True),
    **dict.fromkeys(("withdrawn", "withdraw", "no", "n", "false", "0", "撤回", "已撤回", "拒绝", "不同意", "否"),
                    False),
}
_CONSENT_PURPOSE_BY_ALIAS = {purpose: purpose for purpose in CONSENT_PURPOSES_ZH} | {
    alias: purpose for purpose, (zh, more) in CONSENT_PURPOSES_ZH.items() for alias in (zh, *more)}
_CONSENT_CHANNEL_BY_ALIAS = {c: c for c in ConsentChannel.values} | {
    zh: channel for channel, zh in CONSENT_CHANNELS_ZH.items()}


def header_for(key: str, language: str | None = None) -> str:
    """The header an export writes for column `key` in `language` (the active one by default):
    the key itself, or its Chinese name. parse_header() reads both."""
    language = language or translation.get_language() or ""
    if not language.lower().startswith("zh"):
        return key
    if key in HEADERS_ZH:
        return HEADERS_ZH[key][0]
    if key.startswith("attr:"):
        return "属性:" + key.split(":", 1)[1]
    if key.startswith(CONSENT_PREFIX + ":"):
        _prefix, purpose, *channel = key.split(":")
        zh = CONSENT_PURPOSES_ZH.get(purpose, (purpose,))[0]
        return f"{zh}:{CONSENT_CHANNELS_ZH.get(channel[0], channel[0])}" if channel else zh
    channel, _sep, namespace = key.partition(":")
    if channel in CHANNEL_HEADERS_ZH:
        zh = CHANNEL_HEADERS_ZH[channel][0]
        return f"{zh}:{namespace}" if namespace else zh
    return key


ATTRIBUTE_PREFIXES = ("attr:", "属性:")

DESCRIPTIONS = {
    "name": format_lazy(gettext_lazy("Member's name (required for a new member), at most {max} characters."),
                        max=NAME_MAX),
    "phone": gettext_lazy("Mobile number, e.g. 13800138000 or +86 138 0013 8000; also identifies the member."),
    "gender": gettext_lazy("f / m / u (or 女 / 男 / 未知)."),
    "birthday": gettext_lazy("YYYY-MM-DD."),
    "home_store": gettext_lazy("Store code, e.g. SH01. A store manager imports into their own store only."),
    "owner": gettext_lazy("Username of the shopping guide; must work at the member's store."),
    "source": format_lazy(gettext_lazy("How the member joined: {choices}."), choices=", ".join(Source.values)),
    "stage": format_lazy(gettext_lazy("5A stage: {choices}."), choices=", ".join(Stage.values)),
    "tags": gettext_lazy("Existing tags as group:tag pairs separated by ';', e.g. 奶粉品牌:A2;方言:粤语."),
    "identity": gettext_lazy("An id on this channel; add :namespace for an app or shop, e.g. miniprogram:wx5f1c."),
    "attr": gettext_lazy("attr:<code>: a custom attribute, checked against its type."),
    "consent": format_lazy(gettext_lazy("Marketing consent: granted or withdrawn (同意 / 撤回); consent:marketing:sms "
                                        "for one channel ({channels}). Empty leaves it as it is."),
                           channels=", ".join(c for c in ConsentChannel.values if c != ConsentChannel.ALL)),
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
    purpose: str = ""  # consent columns: purpose, and channel in `channel`

    @property
    def key(self) -> str:
        """The canonical header (what an export writes)."""
        if self.kind == "identity":
            return f"{self.channel}:{self.namespace}" if self.namespace else self.channel
        if self.kind == "attr":
            return f"attr:{self.attribute.code}"
        if self.kind == "consent":
            suffix = "" if self.channel == ConsentChannel.ALL else f":{self.channel}"
            return f"{CONSENT_PREFIX}:{self.purpose}{suffix}"
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

    @property
    def consents(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "consent"]


def _normal(text: str) -> str:
    text = (text or "").replace("\ufeff", "").strip()
    text = text.replace("：", ":")
    return re.sub(r"\s+", " ", text).lower()


_FIELD_BY_ALIAS = {alias.lower(): kind for kind, aliases in ALIASES.items() for alias in aliases}
_CHANNEL_BY_ALIAS = {c: c for c in IDENTITY_CHANNELS} | {
    alias.lower(): channel for channel, aliases in CHANNEL_ALIASES.items() for alias in aliases
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
        column = _column(index, raw, definitions)
        if isinstance(column, str):
            errors.append((index + 1, raw, column))
            continue
        if column.key in seen:
            errors.append((index + 1, raw, _("Column “%(header)s” repeats column %(other)d.")
                           % {"header": preview(raw.strip()), "other": seen[column.key]}))
            continue
        seen[column.key] = index + 1
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


def _column(index: int, raw: str, definitions: dict[str, AttributeDefinition]) -> Column | str:
    """The column a header cell names, or a message saying why it names none."""
    text = _normal(raw)
    if not text:
        return _("Column %(number)d has no name.") % {"number": index + 1}
    consent_column = _consent_column(index, raw, text)
    if consent_column is not None:
        return consent_column
    if text in _FIELD_BY_ALIAS:
        return Column(index, raw, _FIELD_BY_ALIAS[text])
    if text.startswith(ATTRIBUTE_PREFIXES):
        code = text.split(":", 1)[1].strip()
        definition = definitions.get(code)
        if definition is None:
            return _("Unknown custom attribute “%(code)s”.") % {"code": preview(code)}
        return Column(index, raw, "attr", attribute=definition)
    name, _sep, _namespace = text.partition(":")
    channel = _CHANNEL_BY_ALIAS.get(name.strip())
    namespace = raw.replace("：", ":").partition(":")[2].strip()  # keep the namespace's own case
    if channel is None:
        return _("Unknown column “%(header)s”.") % {"header": preview(raw.strip())}
    if channel in NO_NAMESPACE and namespace:
        return _("A %(channel)s id has no namespace; name the column %(channel)s.") % {"channel": channel}
    if len(namespace) > identities.NAMESPACE_MAX:
        return _("The namespace may have at most %(max)d characters.") % {"max": identities.NAMESPACE_MAX}
    return Column(index, raw, "identity", channel=channel, namespace=namespace)


def _consent_column(index: int, raw: str, text: str) -> Column | str | None:
    """A consent column, a message saying why this consent cannot be imported, or None (not consent)."""
    parts = [p.strip() for p in text.split(":")]
    if parts[0] == CONSENT_PREFIX and len(parts) in (2, 3):
        purpose, channel = parts[1], parts[2] if len(parts) == 3 else ConsentChannel.ALL
    elif parts[0] in _CONSENT_PURPOSE_BY_ALIAS and len(parts) in (1, 2):
        purpose, channel = _CONSENT_PURPOSE_BY_ALIAS[parts[0]], parts[1] if len(parts) == 2 else ConsentChannel.ALL
    else:
        return None
    if purpose not in CONSENT_PURPOSES_ZH:
        if purpose in ConsentPurpose.values:
            return _("Consent to %(purpose)s is recorded on the member's profile, not imported.") % {
                "purpose": purpose}
        return _("Unknown consent purpose “%(purpose)s”; one of: %(choices)s.") % {
            "purpose": preview(purpose), "choices": ", ".join(CONSENT_PURPOSES_ZH)}
    channel = _CONSENT_CHANNEL_BY_ALIAS.get(channel)
    if channel is None:
        return _("Unknown consent channel in “%(header)s”; one of: %(choices)s.") % {
            "header": preview(raw.strip()), "choices": ", ".join(ConsentChannel.values)}
    problems = consent.answer_errors(purpose=purpose, channel=channel, granted=True)
    if problems:  # the rules of set_consent: brand-wide purposes are answered for all channels at once
        return problems["channel"][0]
    return Column(index, raw, "consent", channel=channel, purpose=purpose)


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
    columns.append((f"{CONSENT_PREFIX}:{ConsentPurpose.MARKETING}", str(DESCRIPTIONS["consent"])))
    for definition in definitions:
        description = f"{definition.label} ({definition.get_type_display()})"
        if definition.choices:
            description += ": " + " / ".join(definition.choices)
        if definition.sensitive or definition.requires_guardian:
            description += " — " + _("needs the member's consent; only members who gave it can take a value")
        columns.append((f"attr:{definition.code}", description))
    return columns
