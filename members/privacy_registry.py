"""The registries of a data-subject request (PIPL arts. 45, 47): every app that holds something
about a member adds its part of the member's export, its erasure step and its retention step here,
from its `plugins.py`, so a request covers every app without the member centre importing them.

- `register_export_part(name, build)`: build(member, actor) -> JSON-able data, the section `name`
  of the export. `actor` is who asked: a part leaves out what that actor may not read elsewhere.
- `register_erasure_step(name, erase)`: erase(subject) -> a count or {what: count}. Runs inside
  the erasure's transaction, before the member's own row is blanked, so `subject` still knows the
  phone, names and identities to look for. A step is idempotent: run twice, it finds nothing more.
- `register_retention_step(name, run)`: run(now=..., batch=...) -> {what: count}; the periodic
  retention job calls each in turn and records the counts.
- `register_activity(name, sql)`: an SQL condition over the member `m` that is true when the member
  did something the app records since `%(since)s` (bought, earned); the member retention erases only
  members with no activity anywhere.

`ErasureSubject.needles` are the strings that identify the member in free text (every spelling of
the phone, the names, the channel ids); `scrub_text_fields` replaces them in text columns."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import F, JSONField, Q, TextField, Value
from django.db.models.functions import Cast, Replace

ERASED = "[erased]"  # what takes a member's name, phone or id in free text that is kept
MIN_NEEDLE = 3  # shorter strings (a one-letter name) would erase unrelated text; CJK names count double

ExportPart = Callable[..., object]
ErasureStep = Callable[["ErasureSubject"], object]
RetentionStep = Callable[..., dict]

_export_parts: dict[str, ExportPart] = {}
_erasure_steps: dict[str, ErasureStep] = {}
_retention_steps: dict[str, RetentionStep] = {}
_activities: dict[str, str] = {}


def register_export_part(name: str, build: ExportPart) -> None:
    """Add the section `name` to every data-subject export: build(member, actor) -> JSON-able data."""
    _export_parts[name] = build


def register_erasure_step(name: str, erase: ErasureStep) -> None:
    """Run erase(subject) inside every erasure; its result is counted in the erasure's audit entry."""
    _erasure_steps[name] = erase


def register_retention_step(name: str, run: RetentionStep) -> None:
    """Run run(now=, batch=) in every retention pass; it returns what it removed, by kind."""
    _retention_steps[name] = run


def register_activity(name: str, sql: str) -> None:
    """An EXISTS (...) condition over members `m` with the parameter %(since)s: recent activity."""
    _activities[name] = sql


def activities() -> dict[str, str]:
    return dict(_activities)


def export_parts() -> dict[str, ExportPart]:
    return dict(_export_parts)


def erasure_steps() -> dict[str, ErasureStep]:
    return dict(_erasure_steps)


def retention_steps() -> dict[str, RetentionStep]:
    return dict(_retention_steps)


def member_cache_key(member_id: int, part: str) -> str:
    """The cache key of anything cached about one member: erasure drops every `member:<id>:*` key."""
    return f"member:{member_id}:{part}"


def _weight(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # a CJK character says as much as two letters


@dataclass(frozen=True)
class ErasureSubject:
    """Who is being erased: the member and the duplicates merged into it, with what identifies them,
    read before anything is blanked."""

    member_ids: list[int]
    phones: list[str] = field(default_factory=list)  # E.164
    names: list[str] = field(default_factory=list)
    identities: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, namespace, external id)
    attribute_values: list[str] = field(default_factory=list)

    @property
    def phone_spellings(self) -> list[str]:
        """Every way a phone of the member is written: E.164, with 00, national, and the national
        number in the usual groups (138 0013 8000, 138-0013-8000)."""
        import phonenumbers

        found: list[str] = []
        for phone in self.phones:
            found.append(phone)
            try:
                number = phonenumbers.parse(phone, None)
            except phonenumbers.NumberParseException:
                continue
            national = str(number.national_number)
            found += [
                f"00{number.country_code}{national}",
                national,
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
            ]
            if len(national) == 11:  # mainland mobiles: 3-4-4
                found += [
                    f"{national[:3]} {national[3:7]} {national[7:]}",
                    f"{national[:3]}-{national[3:7]}-{national[7:]}",
                ]
        return list(dict.fromkeys(found))

    @property
    def needles(self) -> list[str]:
        """The strings to take out of free text, longest first (so +8613800138000 goes before
        13800138000)."""
        candidates = [*self.phone_spellings, *self.names, *(external for _c, _n, external in self.identities)]
        kept = {c.strip() for c in candidates if c and _weight(c.strip()) >= MIN_NEEDLE}
        return sorted(kept, key=lambda c: (-len(c), c))

    def mentioned_in(self, text: str) -> bool:
        return any(needle in text for needle in self.needles)

    def scrub(self, text: str) -> str:
        """`text` with every needle replaced by ERASED."""
        for needle in self.needles:
            text = text.replace(needle, ERASED)
        return text

    def scrub_json(self, value):
        """A JSON value with every needle replaced in its strings (keys included)."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json(item) for item in value]
        if isinstance(value, dict):
            return {self.scrub(str(key)): self.scrub_json(item) for key, item in value.items()}
        return value


def scrub_text_fields(queryset, fields: Iterable[str], needles: Iterable[str]) -> int:
    """Replace each needle by ERASED in the text `fields` of `queryset`, in SQL (one UPDATE per field
    and needle, touching only the rows that hold it); returns the number of replacements made."""
    changed = 0
    needles = list(needles)
    for name in fields:
        for needle in needles:
            changed += queryset.filter(**{f"{name}__contains": needle}).update(
                **{name: Replace(name, Value(needle), Value(ERASED))}
            )
    return changed


def scrub_json_fields(queryset, fields: Iterable[str], needles: Iterable[str]) -> int:
    """As scrub_text_fields, for JSON columns: the needle is replaced in the value's JSON text."""
    changed = 0
    needles = list(needles)
    erased = json.dumps(ERASED, ensure_ascii=False)[1:-1]
    for name in fields:
        for needle in needles:
            spelled = json.dumps(needle, ensure_ascii=False)[1:-1]
            as_text = Cast(F(name), TextField())
            changed += (
                queryset.annotate(_as_text=as_text)
                .filter(_as_text__contains=spelled)
                .update(**{name: Cast(Replace(as_text, Value(spelled), Value(erased)), JSONField())})
            )
    return changed


def any_contains(fields: Iterable[str], needles: Iterable[str]) -> Q:
    """Rows whose text `fields` hold any of `needles`."""
    condition = Q(pk__in=[])
    for name in fields:
        for needle in needles:
            condition |= Q(**{f"{name}__contains": needle})
    return condition


_DIGITS = re.compile(r"\d")


def looks_like_phone(text: str) -> bool:
    """A cell worth normalising as a phone: at least seven digits."""
    return len(_DIGITS.findall(text)) >= 7
