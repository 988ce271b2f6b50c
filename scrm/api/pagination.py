"""Cursor pagination for every API list: stable and fast however deep a client pages through
millions of rows, one envelope ({"next", "previous", "results"}) everywhere.

Paging input is refused rather than guessed: a `page_size` that is not a whole number from 1 to
MAX_PAGE_SIZE is a 400 naming the limit (never silently capped), and a cursor this list did not
hand out is a 400 (not a 404: the list exists, the cursor is what is wrong)."""

from __future__ import annotations

import binascii
import re
from base64 import b64decode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from scrm.errors import InvalidInput

MAX_PAGE_SIZE = 500
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")


class Cursor(CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    page_size_query_description = f"Results per page, 1 to {MAX_PAGE_SIZE} (default 50)."
    cursor_query_description = "The `next` or `previous` link's cursor, as this list handed it out."

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        value = int(raw) if _WHOLE_NUMBER.fullmatch(raw) else None
        if value is None or not 1 <= value <= self.max_page_size:
            raise InvalidInput(
                details={
                    self.page_size_query_param: [
                        _("A whole number from 1 to %(max)d (got %(value)s).")
                        % {"max": self.max_page_size, "value": raw[:20]}
                    ]
                }
            )
        return value

    def _invalid_cursor(self) -> InvalidInput:
        return InvalidInput(
            details={self.cursor_query_param: [_("Invalid cursor: use the next or previous link this list gave.")]}
        )

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None:
            # DRF's decoder skips characters outside base64, so "%%%" would read as the first page.
            try:
                b64decode(encoded.encode("ascii"), validate=True)
            except (ValueError, binascii.Error):
                raise self._invalid_cursor() from None
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise self._invalid_cursor() from None

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, DjangoValidationError):
            # A well-formed cursor whose position does not fit the ordering field (id=abc).
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise self._invalid_cursor() from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


def cursor_ordered_by(*ordering: str) -> type[Cursor]:
    """The cursor paginator of a list in another order than newest first (the first field should be
    unique or nearly so: tag groups by sort order, regions by code)."""
    return type(f"Cursor_{'_'.join(f.lstrip('-') for f in ordering)}", (Cursor,), {"ordering": ordering})
