"""Reading a request body the way every write endpoint expects it: one JSON object."""

from __future__ import annotations

from django.utils.translation import gettext as _

from scrm.errors import InvalidInput


def json_object(request) -> dict:
    """The request's JSON object as a plain dict; anything else (a list, a string) is a 400."""
    if not isinstance(request.data, dict):
        raise InvalidInput(details={"non_field_errors": [_("Expected a JSON object.")]})
    return dict(request.data)
