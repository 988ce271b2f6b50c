"""Reading a request body the way every write endpoint expects it: one JSON object, of the shape
its OpenAPI schema documents."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import relations, serializers
from rest_framework.validators import UniqueForDateValidator, UniqueTogetherValidator, UniqueValidator

from scrm.api.fields import shape_problem
from scrm.errors import InvalidInput

UNIQUENESS = (UniqueValidator, UniqueTogetherValidator, UniqueForDateValidator)


def json_object(request, documented=None, *, nested: bool = True) -> dict:
    """The request's JSON object as a plain dict; anything else (a list, a string) is a 400.

    `documented` is the serializer the route's schema documents the body with, on a route whose
    service validates the body itself: the body is first held to what the schema says (each value of
    the documented JSON type, a choice among those listed, text within its length and not empty
    unless allowed, numbers within range, null only where nullable, the required fields present; on
    PATCH none is required), so a body the schema rules out is a 400 naming each field, whatever the
    service would make of it. What the schema cannot say (whether a referenced row exists, a
    uniqueness, rules across fields) stays the service's.
    `nested=False` checks the top level only (a batch whose service answers each item on its own)."""
    if not isinstance(request.data, dict):
        raise InvalidInput(details={"non_field_errors": [_("Expected a JSON object.")]})
    data = dict(request.data)
    if documented is not None:
        serializer = documented() if isinstance(documented, type) else documented
        if errors := shape_errors(serializer, data, partial=request.method == "PATCH", nested=nested):
            raise InvalidInput(details=errors)
    return data


def shape_errors(serializer: serializers.Serializer, data: dict, *, partial: bool = False, nested: bool = True) -> dict:
    """Field name -> what is wrong with the shape of `data` against `serializer` (empty: nothing)."""
    errors: dict = {}
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if name not in data:
            if field.required and not partial:
                errors[name] = [str(field.error_messages["required"])]
            continue
        if problem := value_errors(field, data[name], partial=partial, nested=nested):
            errors[name] = problem
        else:
            data[name] = _whole(field, data[name])
    return errors


def value_errors(field: serializers.Field, value, *, partial: bool = False, nested: bool = True):
    """What is wrong with the shape of one value: a list of messages, or a dict for what it holds."""
    if value is None:
        return None if field.allow_null else [str(field.error_messages["null"])]
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        if not isinstance(value, list):
            return [_("Expected a list.")]
        if (problem := _length_problem(field, value)) or not nested:
            return problem
        items = {}
        for index, item in enumerate(value):
            if problem := value_errors(field.child, item, partial=partial, nested=nested):
                items[str(index)] = problem
            else:
                value[index] = _whole(field.child, item)
        return items or None
    if isinstance(field, serializers.Serializer):
        if not isinstance(value, dict):
            return [_("Expected an object.")]
        return (shape_errors(field, value, partial=partial, nested=nested) or None) if nested else None
    if isinstance(field, serializers.DictField):
        if not isinstance(value, dict):
            return [_("Expected an object.")]
        entries = {}
        for key, item in value.items():
            if problem := value_errors(field.child, item, partial=partial, nested=nested):
                entries[key] = problem
            else:
                value[key] = _whole(field.child, item)
        return entries or None
    if isinstance(field, relations.RelatedField | relations.ManyRelatedField):
        # The id's or code's type only: whether the row exists is the service's to say.
        problem = shape_problem(field, value)
        return [problem] if problem else None
    # The field's own rules (type, choice, blank, length, range, digits), not uniqueness: a taken
    # name is the service's to answer (often a 409).
    field.validators = [v for v in field.validators if not isinstance(v, UNIQUENESS)]
    try:
        field.run_validation(value)
    except serializers.ValidationError as exc:
        return exc.detail
    return None


def _length_problem(field, value: list) -> list | None:
    if field.max_length is not None and len(value) > field.max_length:
        return [_("Ensure this field has no more than %(limit)d elements.") % {"limit": field.max_length}]
    if field.min_length is not None and len(value) < field.min_length:
        return [_("Ensure this field has at least %(limit)d elements.") % {"limit": field.min_length}]
    return None


def _whole(field, value):
    """1.0 where the schema says integer is the integer 1 (JSON Schema's reading): the service gets an int."""
    integer = isinstance(field, serializers.IntegerField | relations.PrimaryKeyRelatedField)
    return int(value) if integer and isinstance(value, float) and value.is_integer() else value
