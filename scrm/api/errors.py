"""One error shape for every 4xx and 5xx under /api/:

    {"error": {"status": 404, "code": "not_found", "message": "...", "details": {...}}}

`details` carries field errors for validation failures ({"phone": ["..."]}, or
{"rows": {"3": {...}}} for batches), `retry_after` for throttling and `reason` where an error has
a more precise cause than its code (an API key that is "invalid", "expired" or "revoked").
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scrm.errors import ServiceError

logger = logging.getLogger("scrm.api")

API_PREFIX = "/api/"

_CODES = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "throttled",
    500: "server_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


def error_body(status: int, code: str, message: str, details=None) -> dict:
    return {"error": {"status": status, "code": code, "message": message, "details": details or {}}}


def _code_for(exc) -> str:
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return getattr(exc, "default_code", None) or "error"


def exception_handler(exc, context):
    """Every API view's handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]): a service error keeps its own
    status, code and details; a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, not a crash."""
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.status, exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = _("The request body is larger than %(limit)d bytes; send fewer items per request.") % {
            "limit": limit}
        return Response(error_body(413, "payload_too_large", message, {"limit_bytes": limit}), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: ApiErrorMiddleware logs it and answers 500 in the same shape
    code = _code_for(exc)
    details: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        message = _("The request has invalid data; see details for each field.")
        data = exc.detail
        details = data if isinstance(data, dict) else {"non_field_errors": data}
    else:
        message = str(exc.detail)
        # An exception raised with its own code (an API key that expired or was revoked...) says so
        # in details.reason: the message is translated, the reason is what a program can test.
        reason = getattr(exc.detail, "code", None)
        if reason and reason != exc.default_code:
            details["reason"] = reason
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after"] = int(exc.wait)
    response.data = error_body(response.status_code, code, message, details)
    return response


class ApiErrorMiddleware:
    """Gives API clients JSON for errors raised outside DRF: unknown URLs and crashes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not isinstance(response, Response)
            and "json" not in response.get("Content-Type", "")
        ):
            status = response.status_code
            message = _("No API endpoint at this address.") if status == 404 else response.reason_phrase
            return JsonResponse(error_body(status, _STATUS_CODES.get(status, "error"), message), status=status)
        return response

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return JsonResponse(
            error_body(500, "server_error", _("Something went wrong on our side; the error was logged.")),
            status=500,
        )
