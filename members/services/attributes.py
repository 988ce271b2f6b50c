"""Custom attributes: operators declare them (AttributeDefinition), values live in Member.attributes.

Every value is validated against its definition's type. Sensitive attributes need the member's
sensitive-data consent; attributes about a child (`requires_guardian`) need the guardian's consent
too. Withdrawing either consent removes the values that depended on it (see consent.set_consent)."""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from members.models import AttributeDefinition, AttributeType, ConsentChannel, ConsentPurpose, Member, MemberEvent
from members.services import events
from scrm.errors import Conflict, InvalidInput
from scrm.models import Role
from scrm.permissions import require_write

TEXT_MAX = 255  # a text value; values live in Member.attributes (JSON), so no column states it
CHOICE_MAX = AttributeDefinition._meta.get_field("choices").base_field.max_length
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# Yes / no as people write it, in English and Chinese: the API and the file import read the same words.
BOOLEAN_WORDS = {
    **dict.fromkeys(("true", "yes", "y", "1", "t", "是", "有"), True),
    **dict.fromkeys(("false", "no", "n", "0", "f", "否", "无"), False),
}


def definitions_by_code() -> dict[str, AttributeDefinition]:
    """The active definitions, one query."""
    return {d.code: d for d in AttributeDefinition.objects.filter(is_active=True)}


def _text(definition, value):
    if not isinstance(value, str):
        raise ValueError(_("Expected text."))
    value = value.strip()
    if len(value) > TEXT_MAX:
        raise ValueError(_("At most %(max)d characters.") % {"max": TEXT_MAX})
    return value or None


def _number(definition, value):
    if isinstance(value, bool):
        raise ValueError(_("Expected a number."))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(_("Expected a number."))
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(_("Expected a number, not %(value)s.") % {"value": value}) from None
        if not number.is_finite():
            raise ValueError(_("Expected a number."))
        return int(number) if number == number.to_integral_value() else float(number)
    raise ValueError(_("Expected a number."))


def _date(definition, value):
    if not isinstance(value, str) or not DATE_PATTERN.match(value.strip()):
        raise ValueError(_("Expected a date as YYYY-MM-DD."))
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise ValueError(_("%(value)s is not a date.") % {"value": value}) from None


def _month(definition, value):
    if not isinstance(value, str) or not MONTH_PATTERN.match(value.strip()):
        raise ValueError(_("Expected a month as YYYY-MM."))
    return value.strip()


def _boolean(definition, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
        return BOOLEAN_WORDS[value.strip().lower()]
    raise ValueError(_("Expected true or false."))


def _not_a_choice(definition, values) -> ValueError:
    return ValueError(
        _("%(value)s is not one of: %(choices)s.") % {"value": values, "choices": ", ".join(definition.choices)}
    )


def _choice(definition, value):
    if not isinstance(value, str) or value not in definition.choices:
        raise _not_a_choice(definition, value)
    return value


def _multi_choice(definition, value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(_("Expected a list of choices."))
    unknown = [item for item in value if item not in definition.choices]
    if unknown:
        raise _not_a_choice(definition, ", ".join(unknown))
    chosen = set(value)
    return [choice for choice in definition.choices if choice in chosen] or None


_VALUE_CLEANERS = {
    AttributeType.TEXT: _text,
    AttributeType.NUMBER: _number,
    AttributeType.DATE: _date,
    AttributeType.MONTH: _month,
    AttributeType.BOOLEAN: _boolean,
    AttributeType.CHOICE: _choice,
    AttributeType.MULTI_CHOICE: _multi_choice,
}


def clean_value(definition: AttributeDefinition, value):
    """The stored form of `value` for `definition`, None to remove it; ValueError with a message."""
    if value is None:
        return None
    cleaner = _VALUE_CLEANERS.get(definition.type)
    if cleaner is None:
        raise ValueError(_("Unknown attribute type %(type)s.") % {"type": definition.type})
    return cleaner(definition, value)


def clean_values(values, definitions: dict[str, AttributeDefinition]) -> tuple[dict, dict]:
    """(cleaned, errors): cleaned maps code -> stored value or None (remove); errors maps code -> [message]."""
    if not isinstance(values, dict):
        return {}, {"non_field_errors": [_("Expected an object of attribute codes and values.")]}
    cleaned, errors = {}, {}
    for code, value in values.items():
        definition = definitions.get(code)
        if definition is None:
            errors[code] = [_("Unknown attribute %(code)s.") % {"code": code}]
            continue
        try:
            cleaned[code] = clean_value(definition, value)
        except ValueError as exc:
            errors[code] = [str(exc)]
    return cleaned, errors


def consents_needed(definition: AttributeDefinition) -> list[str]:
    needed = []
    if definition.sensitive:
        needed.append(ConsentPurpose.SENSITIVE_DATA)
    if definition.requires_guardian:
        needed.append(ConsentPurpose.GUARDIAN)
    return needed


def granted_purposes(member_ids) -> dict[int, set[str]]:
    """member id -> purposes granted on 'all' channels (sensitive data, guardian...), one query."""
    from members.models import Consent

    found: dict[int, set[str]] = {}
    rows = Consent.objects.filter(
        member_id__in=member_ids, channel=ConsentChannel.ALL, granted=True,
        purpose__in=[ConsentPurpose.SENSITIVE_DATA, ConsentPurpose.GUARDIAN],
    ).values_list("member_id", "purpose")
    for member_id, purpose in rows:
        found.setdefault(member_id, set()).add(purpose)
    return found


def consent_errors(cleaned: dict, definitions: dict[str, AttributeDefinition], granted: set[str]) -> dict:
    """Errors for values the member has not consented to keep (removing a value needs no consent)."""
    errors = {}
    labels = {ConsentPurpose.SENSITIVE_DATA: _("sensitive data"), ConsentPurpose.GUARDIAN: _("guardian")}
    for code, value in cleaned.items():
        if value is None:
            continue
        missing = [p for p in consents_needed(definitions[code]) if p not in granted]
        if missing:
            errors[code] = [
                _("Needs the member's %(consent)s consent first.")
                % {"consent": " + ".join(str(labels[p]) for p in missing)}
            ]
    return errors


def merged(old: dict, cleaned: dict) -> dict:
    result = dict(old or {})
    for code, value in cleaned.items():
        if value is None:
            result.pop(code, None)
        else:
            result[code] = value
    return result


def describe_changes(old: dict, new: dict, definitions: dict[str, AttributeDefinition]) -> dict:
    """code -> [old, new] for the timeline; sensitive values are not copied there, only that they changed."""
    changes = {}
    for code in sorted(set(old) | set(new)):
        before, after = old.get(code), new.get(code)
        if before == after:
            continue
        definition = definitions.get(code)
        if definition is not None and (definition.sensitive or definition.requires_guardian):
            changes[code] = {"changed": True}
        else:
            changes[code] = [before, after]
    return changes


@transaction.atomic
def set_attributes(*, member: Member, values: dict, actor) -> Member:
    """Set (or, with null, remove) some attribute values of one member; the others stay."""
    definitions = definitions_by_code()
    cleaned, errors = clean_values(values, definitions)
    if errors:
        raise InvalidInput(details={"attributes": errors})
    member = Member.objects.select_for_update().get(pk=member.pk)
    errors = consent_errors(cleaned, definitions, granted_purposes([member.pk]).get(member.pk, set()))
    if errors:
        raise InvalidInput(details={"attributes": errors})
    old = dict(member.attributes or {})
    new = merged(old, cleaned)
    changes = describe_changes(old, new, definitions)
    if changes:
        member.attributes = new
        member.save(update_fields=["attributes", "updated_at"])
        events.record(member.pk, MemberEvent.Kind.UPDATED, actor, {"attributes": changes})
    return member


def drop_attributes_needing(*, member_id: int, purpose: str, actor) -> list[str]:
    """Remove the values that need `purpose` (after that consent was withdrawn); returns their codes."""
    codes = [
        d.code for d in AttributeDefinition.objects.all()
        if purpose in consents_needed(d)
    ]
    member = Member.objects.select_for_update().get(pk=member_id)
    present = [code for code in codes if code in (member.attributes or {})]
    if present:
        member.attributes = {k: v for k, v in member.attributes.items() if k not in present}
        member.save(update_fields=["attributes", "updated_at"])
        events.record(
            member_id, MemberEvent.Kind.UPDATED, actor,
            {"attributes": {code: {"changed": True} for code in present}, "reason": f"consent_withdrawn:{purpose}"},
        )
    return present


# --- definitions ---------------------------------------------------------------------------------

DEFINITION_FIELDS = {"code", "label", "type", "choices", "sensitive", "requires_guardian", "help_text", "is_active",
                     "sort_order"}


def _require_brand_wide(actor) -> None:
    require_write(actor, "attributes")  # declared for the whole brand: operators and brand-wide keys


def _check_definition(definition: AttributeDefinition) -> None:
    errors = {}
    if definition.type not in AttributeType.values:
        errors["type"] = [_("Unknown type %(type)s.") % {"type": definition.type}]
    choices = list(definition.choices or [])
    if definition.type in (AttributeType.CHOICE, AttributeType.MULTI_CHOICE):
        if not choices:
            errors["choices"] = [_("A choice attribute needs at least one choice.")]
        elif len(set(choices)) != len(choices):
            errors["choices"] = [_("Each choice may appear only once.")]
        elif any(not str(c).strip() or len(str(c)) > CHOICE_MAX for c in choices):
            errors["choices"] = [_("Choices are 1 to %(max)d characters long.") % {"max": CHOICE_MAX}]
    elif choices:
        errors["choices"] = [_("Only choice attributes have choices.")]
    if errors:
        raise InvalidInput(details=errors)


def _in_use(code: str):
    return Member.objects.filter(attributes__has_key=code)


@transaction.atomic
def create_definition(*, actor, **fields) -> AttributeDefinition:
    _require_brand_wide(actor)
    unknown = set(fields) - DEFINITION_FIELDS
    if unknown:
        raise TypeError(f"create_definition() got unknown fields {sorted(unknown)}")
    definition = AttributeDefinition(**fields)
    _check_definition(definition)
    if AttributeDefinition.objects.filter(code=definition.code).exists():
        raise InvalidInput(details={"code": [_("An attribute with this code already exists.")]})
    definition.save()
    return definition


@transaction.atomic
def update_definition(*, definition: AttributeDefinition, actor, **fields) -> AttributeDefinition:
    """Change a definition. The code names stored values and cannot change; the type cannot change
    while members have values; a choice still in use cannot be removed."""
    _require_brand_wide(actor)
    unknown = set(fields) - DEFINITION_FIELDS
    if unknown:
        raise TypeError(f"update_definition() got unknown fields {sorted(unknown)}")
    definition = AttributeDefinition.objects.select_for_update().get(pk=definition.pk)
    if "code" in fields and fields["code"] != definition.code:
        raise InvalidInput(details={"code": [_("The code names stored values and cannot change.")]})
    if "type" in fields and fields["type"] != definition.type and _in_use(definition.code).exists():
        raise InvalidInput(details={"type": [_("Members have values of this attribute; its type cannot change.")]})
    if "choices" in fields:
        removed = [c for c in definition.choices if c not in (fields["choices"] or [])]
        in_use = []
        for choice in removed:
            lookup = [choice] if definition.type == AttributeType.MULTI_CHOICE else choice
            if Member.objects.filter(attributes__contains={definition.code: lookup}).exists():
                in_use.append(choice)
        if in_use:
            raise InvalidInput(
                details={"choices": [_("Still chosen by members: %(choices)s.") % {"choices": ", ".join(in_use)}]}
            )
    for name, value in fields.items():
        setattr(definition, name, value)
    _check_definition(definition)
    definition.save()
    return definition


@transaction.atomic
def delete_definition(*, definition: AttributeDefinition, actor) -> None:
    """Delete an unused definition; one with values is deactivated instead (is_active=False)."""
    _require_brand_wide(actor)
    if _in_use(definition.code).exists():
        raise Conflict(
            _("Members have values of %(code)s; deactivate it instead of deleting it.") % {"code": definition.code},
            code="attribute_in_use",
        )
    definition.delete()


def sees_sensitive_attributes(actor) -> bool:
    """Whether `actor` may see, filter by and read sensitive attribute values (health, children:
    `sensitive` or `requires_guardian`). The one rule for the member page, the API, the audience
    builder and segment counts: operators, store managers and brand-wide API keys may; store staff
    and store-bound API keys may not."""
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return api_key.store_id is None
    return getattr(actor, "role", None) in (Role.OPERATOR, Role.STORE_MANAGER)


def hidden_attribute_codes(actor) -> set[str]:
    """Codes of the attribute definitions `actor` may not see (empty for those who see them all)."""
    if sees_sensitive_attributes(actor):
        return set()
    return set(
        AttributeDefinition.objects.filter(Q(sensitive=True) | Q(requires_guardian=True)).values_list("code", flat=True)
    )


def visible_attributes(values: dict, actor) -> dict:
    """A member's attribute values without those `actor` may not see."""
    hidden = hidden_attribute_codes(actor) if values else set()
    return {code: value for code, value in values.items() if code not in hidden}
