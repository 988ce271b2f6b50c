"""The API's JSON parser: a body no endpoint can choke on.

Every JSON body is read within DATA_UPLOAD_MAX_MEMORY_SIZE (a larger one is a 413 on every route,
whether or not the view reads `request.body` first), parsed strictly (no NaN or Infinity), and
refused with a 400 naming where when it nests deeper than MAX_DEPTH or holds, in any key or string,
a NUL byte (PostgreSQL cannot store one in text) or a lone UTF-16 surrogate (not a character; it
cannot be encoded as UTF-8). A view thus only ever sees text it can store.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from rest_framework import parsers

from scrm.errors import InvalidInput

# Deep enough for any document the API takes (a segment definition nests groups a few levels),
# shallow enough that walking it is cheap and nothing recurses into a RecursionError.
MAX_DEPTH = 32


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text (a NUL byte, a lone surrogate), or None."""
    if "\x00" in value:
        return _("Contains a NUL character (\\u0000), which cannot be stored.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _("Contains a lone UTF-16 surrogate, which is not a character.")
    return None


def _where(path: tuple) -> str:
    """A JSON path such as `items[3].name` (`$` for the document itself)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


def check_document(data, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise InvalidInput naming the first place in `data` that nests too deep or holds bad text.

    Iterative, so a hostile document costs linear time and no recursion."""
    stack = [(data, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise InvalidInput(
                    _("The JSON body nests too deeply."),
                    details={_where(path): [_("Nested deeper than %(limit)d levels.") % {"limit": max_depth}]},
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise InvalidInput(
                        _("The JSON body holds text that cannot be stored."),
                        details={_where(path) if path else "$": [_("A key: %(problem)s") % {"problem": problem}]},
                    )
                stack.append((item, (*path, key), depth + 1))
        elif isinstance(value, str) and (problem := text_problem(value)):
            raise InvalidInput(_("The JSON body holds text that cannot be stored."), details={_where(path): [problem]})


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def read_limited(stream, content_length: int | None) -> bytes:
    """The body, never more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes (else RequestDataTooBig: a 413)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and content_length is not None and content_length > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    body = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return body


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded and strict (see the module docstring)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else None
        except (TypeError, ValueError):
            length = None
        body = read_limited(stream, length)
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidInput(
                _("The request body is not valid JSON."),
                details={"$": [_("Not valid %(encoding)s text.") % {"encoding": encoding}]},
                code="parse_error",
            ) from exc
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise InvalidInput(
                _("The JSON body nests too deeply."),
                details={"$": [_("Nested deeper than %(limit)d levels.") % {"limit": MAX_DEPTH}]},
            ) from exc
        except ValueError as exc:
            raise InvalidInput(
                _("The request body is not valid JSON."), details={"$": [str(exc)]}, code="parse_error"
            ) from exc
        check_document(data)
        return data
