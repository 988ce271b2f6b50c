"""OpenAPI pieces every app's API documents with: the one error shape and its usual answers."""

from __future__ import annotations

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


def path_id(name: str, description: str) -> OpenApiParameter:
    """An integer id in the URL path, such as /members/{member_id}/tags/."""
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH, description=description)
