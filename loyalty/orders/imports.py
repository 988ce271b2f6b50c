"""Importing orders from a file (CSV in UTF-8 or GB18030, or XLSX), as POS systems and Tmall or Douyin
shop back-ends export them: one row per order line, the order number repeated on each of its rows
(or one row per order without product columns). English or Chinese headers.

Rows are grouped into orders and recorded through the same service as the API (`record_orders`),
a thousand at a time, so every rule holds the same way. A file is uploaded as a job
(`loyalty.orders.import_jobs`) that a worker runs through `import_orders`, or the request itself
when the file is small. A dry run records everything inside a
transaction that is then rolled back: it reports exactly what an import would create, find
already recorded or refuse. "all" writes nothing if any row is invalid; "valid" records the valid
orders and reports the others. Errors name the row and the column."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.db import OperationalError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.orders import services
from loyalty.orders.models import OrderImportMode
from scrm import jobs
from scrm.files import (
    PREVIEW_MAX,
    SNIFF_BYTES,
    FileError,
    TooLong,
    check_inflated,
    choose_encoding,
    csv_rows,
    detect_format,
    too_long_message,
    xlsx_rows,
)

MAX_BYTES = 10 * 1024 * 1024
MAX_INFLATED = 100 * 1024 * 1024  # what a workbook may unpack to
MAX_ROWS = 50000
# Each statement, and the whole import, are bounded (the job gives the time it has left); a file
# that would take longer is refused (nothing written) and should be split or sent through the API.
STATEMENT_TIMEOUT_MS = 30_000
TIME_BUDGET_SECONDS = 120
# No order column takes a longer cell (an order number, a product's name, an amount...): a longer
# one makes its row an error that gives its length, and its text goes no further.
LONGEST_CELL = 1000
MESSAGE_MAX = 300 + PREVIEW_MAX  # a message echoes at most a preview of a value


class Mode:
    DRY_RUN = OrderImportMode.DRY_RUN.value
    ALL = OrderImportMode.ALL.value
    VALID = OrderImportMode.VALID.value
    CHOICES = OrderImportMode.choices


# Errors the file reader finds itself, stored as a code and its parameters and worded when read
# ({placeholders} filled from the parameters); the order service's own errors are kept as worded.
ROW_MESSAGES = {
    "cell_too_long": gettext_lazy("This cell holds {length} characters; at most {max} are accepted."),
    "differs": gettext_lazy("Differs from row {row} of the same order."),
}


# column key -> accepted headers (compared lower-cased, spaces removed)
COLUMNS: dict[str, tuple[str, ...]] = {
    "channel": ("channel", "渠道", "销售渠道", "平台"),
    "external_id": ("order_number", "external_id", "订单号", "订单编号", "主订单编号", "单号"),
    "placed_at": ("placed_at", "下单时间", "付款时间", "订单创建时间", "销售时间"),
    "store": ("store", "store_code", "门店", "门店编码", "门店代码"),
    "total_amount": ("total_amount", "订单金额", "实付金额", "买家实付金额", "订单实付"),
    "currency": ("currency", "币种"),
    "member_id": ("member_id", "会员id", "会员编号"),
    "phone": ("phone", "手机号", "手机", "收货人手机号", "联系电话"),
    "buyer_channel": ("buyer_channel", "买家渠道"),
    "buyer_namespace": ("buyer_namespace", "店铺id", "店铺"),
    "buyer_id": ("buyer_id", "买家id", "买家会员名", "买家openid", "买家账号"),
    "guide": ("guide", "导购", "导购账号"),
    "referral_code": ("referral_code", "推荐码", "邀请码"),
    "sku": ("sku", "商品编码", "商家编码", "货号"),
    "product": ("product", "商品名称", "商品", "宝贝标题"),
    "category": ("category", "品类", "商品类目", "类目"),
    "quantity": ("quantity", "数量", "购买数量"),
    "line_amount": ("line_amount", "商品金额", "商品实付", "行金额", "小计"),
}
ORDER_KEYS = (
    "channel",
    "placed_at",
    "store",
    "total_amount",
    "currency",
    "member_id",
    "phone",
    "buyer_channel",
    "buyer_namespace",
    "buyer_id",
    "guide",
    "referral_code",
)
LINE_KEYS = {"sku": "sku", "product": "name", "category": "category", "quantity": "quantity", "line_amount": "amount"}
# What shop back-ends write in the channel column.
CHANNEL_NAMES = {
    "门店": "pos",
    "门店pos": "pos",
    "pos": "pos",
    "线下": "pos",
    "天猫": "tmall",
    "淘宝": "tmall",
    "京东": "jd",
    "抖音": "douyin",
    "抖店": "douyin",
    "小红书": "xiaohongshu",
    "小程序": "miniprogram",
    "微信小程序": "miniprogram",
    "企业微信": "wecom",
    "企微": "wecom",
    "其他": "other",
}
IDENTITY_CHANNELS = {"pos", "tmall", "douyin", "xiaohongshu", "miniprogram"}


def _norm(header: str) -> str:
    return "".join(header.split()).lower().lstrip("\ufeff")


_HEADER_OF = {_norm(alias): key for key, aliases in COLUMNS.items() for alias in aliases}


def template_rows() -> list[list[str]]:
    return [
        [
            "order_number",
            "channel",
            "placed_at",
            "store",
            "total_amount",
            "phone",
            "buyer_id",
            "guide",
            "sku",
            "product",
            "category",
            "quantity",
            "line_amount",
        ],
        [
            "SH01-20261120-0001",
            "pos",
            "2026-11-20 14:03",
            "SH01",
            "358.00",
            "13800138000",
            "",
            "",
            "MP-900",
            "Organic milk powder 900g",
            "milk powder",
            "1",
            "298.00",
        ],
        [
            "SH01-20261120-0001",
            "pos",
            "2026-11-20 14:03",
            "SH01",
            "358.00",
            "13800138000",
            "",
            "",
            "DP-L",
            "Diapers L 52",
            "diapers",
            "1",
            "60.00",
        ],
    ]


@dataclass
class RowError:
    row: int
    column: str
    message: str
    code: str = ""
    params: dict = field(default_factory=dict)

    def stored(self) -> dict:
        return {"row": self.row, "column": self.column, "code": self.code, "params": self.params,
                "message": "" if self.code else self.message}


def row_message(code: str, params: dict | None, fallback: str = "") -> str:
    template = ROW_MESSAGES.get(code)
    if template is None:
        return fallback
    text = str(template)
    for name, value in (params or {}).items():
        text = text.replace("{" + name + "}", str(value))
    return text


@dataclass
class ImportReport:
    mode: str
    rows: int = 0
    orders: int = 0
    created: int = 0
    existing: int = 0
    invalid_orders: int = 0
    written: bool = False
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Group:
    rows: list[int]
    item: dict
    lines: list[dict] = field(default_factory=list)
    line_rows: list[int] = field(default_factory=list)
    inconsistent: bool = False


def _rows(upload, encoding: str | None = None):
    """The file's rows: what it is comes from its content (anything but a CSV or an XLSX is
    refused saying what it looks like), a workbook that unpacks past MAX_INFLATED is refused, and a
    CSV's encoding is detected or the one declared checked (refused when unclear, never guessed)."""
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    kind = detect_format(head, getattr(upload, "name", ""), source=upload)
    if kind == "xlsx":
        check_inflated(upload, limit=MAX_INFLATED)
        return xlsx_rows(upload)
    return csv_rows(upload, encoding=choose_encoding(upload, encoding))


def _channel(value: str) -> str:
    text = _norm(value)
    return CHANNEL_NAMES.get(text, text)


def check_header(upload, encoding: str | None = None) -> None:
    """FileError naming the columns a file lacks (or saying it is empty), reading its first row only."""
    try:
        _positions(_header(_rows(upload, encoding)))
    finally:
        upload.seek(0)


def _header(rows) -> list:
    try:
        return next(rows)[1]
    except StopIteration:
        raise FileError(_("The file is empty.")) from None


def _positions(header: list) -> tuple[dict[str, int], dict[str, str]]:
    position: dict[str, int] = {}
    headers: dict[str, str] = {}
    for index, title in enumerate(header):
        key = _HEADER_OF.get(_norm(title or ""))
        if key and key not in position:
            position[key], headers[key] = index, title.strip()
    missing = [key for key in ("external_id", "channel", "placed_at") if key not in position]
    if "total_amount" not in position and "line_amount" not in position:
        missing.append("total_amount")
    if missing:
        raise FileError(_("Missing column(s): %(columns)s.") % {"columns": ", ".join(COLUMNS[k][0] for k in missing)})
    return position, headers


def _group(upload, report: ImportReport, encoding: str | None = None) -> tuple[list[_Group], dict[str, str]]:
    """Rows -> orders (keyed by channel and number), with the header each column key came from."""
    rows = _rows(upload, encoding)
    position, headers = _positions(_header(rows))
    groups: dict[tuple[str, str], _Group] = {}
    for number, cells in rows:
        if not any((c or "").strip() or isinstance(c, TooLong) for c in cells):
            continue
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise FileError(_("More than %(max)d rows; split the file or use the API.") % {"max": MAX_ROWS}, row=number)
        value = {key: (cells[i] if i < len(cells) else "") for key, i in position.items()}
        too_long = [key for key, cell in value.items() if len(cell) > LONGEST_CELL]  # a TooLong too
        for key in too_long:  # refused by its length, its text never echoed nor recorded
            params = {"length": f"{len(value[key]):,}", "max": f"{LONGEST_CELL:,}"}
            report.errors.append(RowError(number, headers[key], too_long_message(len(value[key]), LONGEST_CELL),
                                          code="cell_too_long", params=params))
            value[key] = ""
        value = {key: cell.strip() for key, cell in value.items()}
        channel = _channel(value.get("channel", ""))
        group_key = (channel, value.get("external_id", ""))
        item = {
            "channel": channel,
            "external_id": value.get("external_id", ""),
            "placed_at": value.get("placed_at", ""),
        }
        for key in ORDER_KEYS:
            if key in ("channel", "placed_at") or not value.get(key):
                continue
            item[key] = value[key]
        group = groups.get(group_key)
        if group is None:
            group = groups[group_key] = _Group(rows=[], item=item)
        else:
            for key in ORDER_KEYS:
                if key != "channel" and item.get(key, "") != group.item.get(key, ""):
                    group.inconsistent = True
                    report.errors.append(
                        RowError(
                            number,
                            headers.get(key, key),
                            row_message("differs", {"row": group.rows[0]}),
                            code="differs",
                            params={"row": group.rows[0]},
                        )
                    )
        if too_long:
            group.inconsistent = True  # the order is not recorded without the row it lost
        group.rows.append(number)
        if any(value.get(k) for k in LINE_KEYS):
            group.lines.append({LINE_KEYS[k]: value[k] for k in LINE_KEYS if value.get(k)})
            group.line_rows.append(number)
    return list(groups.values()), headers


def _item(group: _Group) -> dict:
    raw = group.item
    item = {k: v for k, v in raw.items() if k not in ("buyer_channel", "buyer_namespace", "buyer_id")}
    if raw.get("member_id"):
        item["member_id"] = int(raw["member_id"]) if raw["member_id"].isdigit() else raw["member_id"]
    if raw.get("buyer_id"):
        channel = raw.get("buyer_channel") or (raw["channel"] if raw["channel"] in IDENTITY_CHANNELS else "")
        item["buyer"] = {
            "channel": channel,
            "namespace": raw.get("buyer_namespace", ""),
            "external_id": raw["buyer_id"],
        }
    if group.lines:
        item["lines"] = [dict(line, amount=line.get("amount", "")) for line in group.lines]
        if "total_amount" not in item:
            try:
                item["total_amount"] = str(sum(services.parse_amount(line.get("amount"))[0] for line in group.lines))
            except TypeError:
                # A line's amount is refused: its own error says why, and the order is refused by
                # it; the file gave no total, so no second error is reported on one.
                item["total_amount"] = "0"
    return item


_ITEM_COLUMN = {"buyer": "buyer_id", "member_id": "member_id", "lines": "line_amount"}
_LINE_COLUMN = {
    "sku": "sku",
    "name": "product",
    "category": "category",
    "quantity": "quantity",
    "amount": "line_amount",
}


def _bounded(message) -> str:
    """A message as the report keeps it: one that echoes a value holds at most a preview's worth more."""
    message = str(message)
    return message if len(message) <= MESSAGE_MAX else message[:MESSAGE_MAX] + "…"


def _row_errors(group: _Group, problems: dict, headers: dict) -> list[RowError]:
    out = []
    for name, messages in problems.items():
        if name == "lines" and isinstance(messages, dict):
            for line_index, line_problems in messages.items():
                row = group.line_rows[int(line_index)]
                for line_field, line_messages in line_problems.items():
                    column = headers.get(_LINE_COLUMN.get(line_field, ""), line_field)
                    out += [RowError(row, column, _bounded(m)) for m in line_messages]
            continue
        if isinstance(messages, dict):  # buyer: {channel: [...], external_id: [...]}
            messages = [m for sub in messages.values() for m in sub]
        key = _ITEM_COLUMN.get(name, name)
        column = headers.get(key, headers.get("line_amount", key) if key == "total_amount" else key)
        out += [RowError(group.rows[0], column, _bounded(m)) for m in messages]
    return out


class _DryRun(Exception):
    pass


def _bound(deadline: float, budget: float) -> None:
    """The next statements may take what is left of the import's time, and at most
    STATEMENT_TIMEOUT_MS each (SET LOCAL: this transaction only); a statement whose client went
    away (a killed worker) is stopped within seconds."""
    if not jobs.bound_statements(ends=deadline, cap_ms=STATEMENT_TIMEOUT_MS, check_client_seconds=5):
        raise FileError(_("Importing this file takes longer than %(seconds)d seconds; nothing was "
                          "written. Split it into smaller files or send the orders through the API.")
                        % {"seconds": int(budget)})


def import_orders(*, upload, mode: str, actor, encoding: str | None = None, time_budget: float | None = None,
                  progress=None) -> ImportReport:
    """Check (and in modes "all" and "valid", record) the orders of a file; see the module docstring.
    `time_budget` seconds bound the whole import (TIME_BUDGET_SECONDS by default); `progress(done,
    total)` is told after each thousand orders."""
    report = ImportReport(mode=mode)
    if getattr(upload, "size", 0) > MAX_BYTES:
        raise FileError(_("The file is larger than %(mb)d MB; split it or use the API.") % {"mb": MAX_BYTES >> 20})
    budget = TIME_BUDGET_SECONDS if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    groups, headers = _group(upload, report, encoding)
    report.orders = len(groups)
    usable = [g for g in groups if not g.inconsistent]
    report.invalid_orders = len(groups) - len(usable)
    try:
        with transaction.atomic():
            for start in range(0, len(usable), services.MAX_BATCH):
                _bound(deadline, budget)
                chunk = usable[start : start + services.MAX_BATCH]
                result = services.record_orders(items=[_item(g) for g in chunk], actor=actor)
                for index, problems in sorted(result.errors.items()):
                    report.errors += _row_errors(chunk[index], problems, headers)
                report.invalid_orders += len(result.errors)
                report.created += result.created
                report.existing += len(result.results) - result.created
                if progress is not None:
                    progress(start + len(chunk), len(usable))
            if mode == Mode.DRY_RUN or (mode == Mode.ALL and report.errors):
                raise _DryRun
            jobs.lift_statement_bound()
            report.written = True
    except _DryRun:
        pass
    except OperationalError as exc:
        if not jobs.statement_cancelled(exc):
            raise
        raise FileError(_("One step of this import took longer than %(seconds)d seconds and was stopped; nothing "
                          "was written. Split the file into smaller files or send the orders through the API.")
                        % {"seconds": STATEMENT_TIMEOUT_MS // 1000}) from None
    report.errors.sort(key=lambda e: (e.row, e.column))
    return report
