"""Serializer fields that take a JSON body at its word: a value is of the type the OpenAPI schema
says, or it is refused with a 400 naming the field.

DRF's own fields coerce: a CharField takes 12 for "12", a BooleanField takes 1, "yes" or "on" for
true, an IntegerField and a related field take "12" for 12, a DecimalField takes 12.5 and " 1e2 ".
The schema (drf-spectacular) says string, boolean, integer and a decimal string with a pattern, so
these fields accept exactly that from JSON:

- text (CharField and its kinds, ChoiceField, SlugRelatedField): a JSON string;
- BooleanField: true or false (null where allow_null);
- IntegerField, PrimaryKeyRelatedField: a JSON integer (1.0 is the integer 1, as in JSON Schema),
  never a string or a boolean;
- FloatField: a JSON number, never a string or a boolean;
- DecimalField: a string of digits with an optional decimal point, and a leading minus unless the
  minimum is zero or more, as the schema's pattern says (the answers write decimals as strings
  too), never a JSON number.

Form and multipart bodies (an import's file and mode) carry only text, so there the fields parse
text as DRF does; the strictness is for JSON bodies, the only ones where a type can be wrong.
Date and time fields need nothing: DRF already refuses anything but a string for them.

Every serializer of the API builds on these (`scrm.api.serializers.StrictModelSerializer` maps model
fields to them; declared fields name them: `fields.CharField(...)`), and
tests/scrm/test_api_strict_fields.py fails on a writable field that does not."""

from __future__ import annotations

import re

from django.utils import dateparse
from django.utils.translation import gettext_lazy as _
from rest_framework import relations, serializers
from rest_framework.utils import html

# What the schema's decimal pattern allows (scrm.api.schema.AutoSchema), before the field checks
# the digits: no exponent, no "+", no spaces, no "NaN".
DECIMAL_TEXT = re.compile(r"^-?(?:\d+(?:\.\d*)?|\.\d+)$")
# A date as the schema's `date` format writes it (YYYY-MM-DD, nothing else).
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def from_form(field: serializers.Field) -> bool:
    """Whether the field reads a form or multipart body (text only), not JSON."""
    root = field.root
    return html.is_html_input(getattr(root, "initial_data", None))


def _parses(parse, value: str) -> bool:
    try:
        return parse(value) is not None
    except ValueError:  # well formed but no such day or time (2026-02-30)
        return False


def _is_integer(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )


def _kind(value) -> type:
    """str, int or bool as JSON tells them apart (a TextChoices value is a str; True is no int)."""
    for kind in (bool, str, int):
        if isinstance(value, kind):
            return kind
    return type(value)


class StrictMixin:
    """Refuse a JSON value `accepts` says no to, with the field's own `invalid` message (its
    `expected` wording when the field has none)."""

    expected = _("Not a valid value.")

    def accepts(self, data) -> bool:
        raise NotImplementedError

    def to_internal_value(self, data):
        if not from_form(self) and not self.accepts(data):
            if "invalid" in self.error_messages:
                self.fail("invalid", input=data)
            raise serializers.ValidationError(self.expected, code="invalid")
        return super().to_internal_value(data)


class TextMixin(StrictMixin):
    expected = _("Not a valid string.")

    def accepts(self, data) -> bool:
        return isinstance(data, str)


class CharField(TextMixin, serializers.CharField):
    pass


class EmailField(TextMixin, serializers.EmailField):
    pass


class RegexField(TextMixin, serializers.RegexField):
    pass


class SlugField(TextMixin, serializers.SlugField):
    pass


class URLField(TextMixin, serializers.URLField):
    pass


class UUIDField(TextMixin, serializers.UUIDField):
    pass


class IPAddressField(TextMixin, serializers.IPAddressField):
    pass


class ChoiceField(serializers.ChoiceField):
    """A choice given as the very value the schema lists: "1" is not the choice 1, nor 1 the choice "1"."""

    def to_internal_value(self, data):
        listed = any(_kind(value) == _kind(data) and value == data for value in self.choices)
        if not from_form(self) and not listed and not (data == "" and self.allow_blank):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class BooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": _("Must be true or false.")}

    def to_internal_value(self, data):
        if from_form(self):
            return super().to_internal_value(data)
        if data is None and self.allow_null:
            return None
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class IntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": _("A valid integer is required (a JSON number, not text).")}

    def to_internal_value(self, data):
        if not from_form(self):
            if not _is_integer(data):
                self.fail("invalid")
            data = int(data)
        return super().to_internal_value(data)


class BigIntegerField(IntegerField, serializers.BigIntegerField):
    pass


class FloatField(serializers.FloatField):
    default_error_messages = {"invalid": _("A valid number is required (a JSON number, not text).")}

    def to_internal_value(self, data):
        if not from_form(self) and (isinstance(data, bool) or not isinstance(data, int | float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class DecimalField(serializers.DecimalField):
    """A decimal as a string ("12.50"), as the answers write it, so no amount passes through a binary
    float on its way in."""

    default_error_messages = {"invalid": _('A valid number is required, written as a string such as "12.50".')}

    def to_internal_value(self, data):
        if not from_form(self):
            if not (isinstance(data, str) and DECIMAL_TEXT.match(data)):
                self.fail("invalid")
            if data.startswith("-") and self.min_value is not None and self.min_value >= 0:
                self.fail("min_value", min_value=self.min_value)
        return super().to_internal_value(data)


class PrimaryKeyRelatedField(relations.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        if not from_form(self) and self.pk_field is None:
            if not _is_integer(data):
                self.fail("incorrect_type", data_type=type(data).__name__)
            data = int(data)
        return super().to_internal_value(data)


class SlugRelatedField(TextMixin, relations.SlugRelatedField):
    pass


# Model fields to the strict fields, for StrictModelSerializer; anything not named keeps DRF's field.
MODEL_FIELD_MAPPING = {
    serializers.IntegerField: IntegerField,
    serializers.BigIntegerField: BigIntegerField,
    serializers.BooleanField: BooleanField,
    serializers.CharField: CharField,
    serializers.DecimalField: DecimalField,
    serializers.EmailField: EmailField,
    serializers.FloatField: FloatField,
    serializers.SlugField: SlugField,
    serializers.URLField: URLField,
    serializers.UUIDField: UUIDField,
    serializers.IPAddressField: IPAddressField,
}


def shape_problem(field: serializers.Field, value) -> str | None:
    """Why `value`, read from JSON, is not of the type the schema gives `field`, or (for a choice)
    not one it lists; None if it is. Lengths, ranges and existence are the service's to check."""
    if isinstance(field, BooleanField | serializers.BooleanField):
        ok = isinstance(value, bool)
    elif isinstance(field, IntegerField | PrimaryKeyRelatedField | serializers.IntegerField):
        ok = _is_integer(value)
    elif isinstance(field, FloatField | serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif isinstance(field, DecimalField | serializers.DecimalField):
        ok = isinstance(value, str) and bool(DECIMAL_TEXT.match(value))
    elif isinstance(field, serializers.ChoiceField):
        ok = any(_kind(choice) == _kind(value) and choice == value for choice in field.choices) or (
            value == "" and field.allow_blank
        )
    elif isinstance(field, serializers.DateTimeField):
        ok = isinstance(value, str) and _parses(dateparse.parse_datetime, value)
    elif isinstance(field, serializers.DateField):
        ok = isinstance(value, str) and ISO_DATE.match(value) is not None and _parses(dateparse.parse_date, value)
    elif isinstance(field, serializers.CharField | relations.SlugRelatedField | serializers.TimeField |
                    serializers.DurationField):
        ok = isinstance(value, str)
    else:
        return None
    if ok:
        return None
    message = field.error_messages.get("invalid") or field.error_messages.get("incorrect_type")
    if isinstance(field, serializers.DateTimeField | serializers.DateField):
        message = _("Expected a date-time in ISO 8601, such as 2026-05-01T10:30:00+08:00.") if isinstance(
            field, serializers.DateTimeField) else _("Expected a date as YYYY-MM-DD.")
    if isinstance(field, serializers.ChoiceField):
        message = field.error_messages["invalid_choice"]
    message = str(message or _("Not a valid value."))
    try:
        return message.format(input=value, data_type=type(value).__name__)
    except (KeyError, IndexError, ValueError):
        return message
