"""OpenAPI pieces every app's API documents with: the one error shape and its usual answers, and the
schema class that documents the Idempotency-Key header."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="Invalid data; details name each field (or item).")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not found, or outside the caller's store.")
CONFLICT = OpenApiResponse(ErrorSerializer, description="Conflicts with the current state; code says how.")
ERRORS = {400: BAD_REQUEST, 404: NOT_FOUND}
NOT_AUTHENTICATED = OpenApiResponse(
    ErrorSerializer, description="No key, or a key that is invalid, expired or revoked (details.reason)."
)
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="The key lacks the scope, or the role may not do this.")
TOO_LARGE = OpenApiResponse(ErrorSerializer, description="The body is over the upload limit (details.limit_bytes).")
THROTTLED = OpenApiResponse(ErrorSerializer, description="Too many requests; details.retry_after says when to retry.")
ALWAYS = {401: NOT_AUTHENTICATED, 403: FORBIDDEN, 429: THROTTLED}


def path_id(name: str, description: str) -> OpenApiParameter:
    """An integer id in the URL path, such as /members/{member_id}/tags/."""
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH, description=description)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r"^[!-~]{1,255}$",
    description=(
        "Makes a retry safe (Stripe's semantics): 1 to 255 visible ASCII characters, a new one (a UUID) "
        "per operation. The first request with a key is carried out; a retry with the same key and the "
        "same method, path and body gets the first answer again (header `Idempotent-Replayed: true`) and "
        "changes nothing. The same key with another request is a 422 `idempotency_key_reused` naming what "
        "differs (details.differs). A retry while the first is still running waits for it, or answers 409 "
        "`idempotency_key_in_progress`. Successes and 409 refusals are kept for 24 hours; other errors are "
        "not, so a corrected request may reuse the key."
    ),
)
KEY_REUSED = OpenApiResponse(
    ErrorSerializer, description="idempotency_key_reused: the Idempotency-Key was first used for another request."
)


def _source_is_nullable(field) -> bool:
    """Whether a serializer field reads through a model field that may be NULL (a member's owner, a
    note's store, `store.code` of a brand-wide user): its answer may then be null, whatever the
    serializer field declares."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    attrs = getattr(field, "source_attrs", None) or []
    for attr in attrs:
        if model is None:
            return False
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return False
        if getattr(model_field, "null", False):
            return True
        model = getattr(model_field, "related_model", None)
    return False


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the Idempotency-Key header (and its 422) on every view method
    marked @idempotent (scrm.api.idempotency)."""

    def _is_idempotent(self) -> bool:
        handler = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        return getattr(handler, "idempotent", False)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_idempotent():
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _get_response_bodies(self, direction="response"):
        # Not get_response_serializers: @extend_schema(responses=...) replaces that method outright.
        responses = super()._get_response_bodies(direction)
        if self._is_idempotent() and "422" not in responses:
            responses["422"] = self._get_response_for_code(KEY_REUSED, "422", direction=direction)
        for code, response in self._kernel_errors().items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(response, str(code), direction=direction)
        return responses

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and "pattern" in schema and field.max_whole_digits:
            # drf-spectacular's pattern (\d{0,n}) also matches "", "-" and ".", which no decimal is.
            # No minus sign where the minimum is zero or more (scrm.api.fields.DecimalField refuses one).
            whole, places = field.max_whole_digits, field.decimal_places
            sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
            schema["pattern"] = rf"^{sign}(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # drf-spectacular leaves out a nested list's bounds (items of a batch: 1 to MAX_BATCH).
            if field.min_length is not None:
                schema["minItems"] = field.min_length
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        if direction == "response" and not schema.get("nullable") and _source_is_nullable(field):
            schema = {"allOf": [schema], "nullable": True} if "$ref" in schema else {**schema, "nullable": True}
        return schema

    def _is_list_view(self, serializer=None):
        # A route whose list action answers one object (a member's tier) says so: `list_answers_one`.
        if getattr(self.view, "list_answers_one", False) and getattr(self.view, "action", None) == "list":
            return False
        return super()._is_list_view(serializer)

    def _get_paginator(self):
        # An action answering a whole, bounded list (tagging a member answers all their tags) is not
        # paged: the view names it in `unpaged_actions`.
        if getattr(self.view, "action", None) in getattr(self.view, "unpaged_actions", ()):
            return None
        return super()._get_paginator()

    def _kernel_errors(self) -> dict:
        """The answers the kernel gives on any route whatever the view documents: a refused key (401),
        a missing scope (403), throttling (429), a 400 for a parameter or body it cannot take (a NUL
        character, an unknown filter), a 404 (an object outside the caller's reach, or a `format`
        no renderer knows); on a write a 409 (a service's Conflict), and a 413 where there is a body."""
        errors = {400: BAD_REQUEST, 404: NOT_FOUND, **ALWAYS}
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors[409] = CONFLICT
        if self.method in ("POST", "PUT", "PATCH"):
            errors[413] = TOO_LARGE
        return errors
