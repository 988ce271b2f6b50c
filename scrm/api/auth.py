"""API key authentication: `Authorization: Bearer <key>`."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from scrm.services import api_keys


class ApiPrincipal:
    """Stands in for request.user when an integration calls with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_operator = False
    is_staff = False
    is_superuser = False
    role = "integration"
    pk = id = None

    def __init__(self, api_key) -> None:
        self.api_key = api_key
        self.store_id = api_key.store_id
        self.scopes = frozenset(api_key.scopes)
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return f"API key {self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").strip()
        if not header:
            return None
        keyword, _sep, token = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed(
                _("The Authorization header has no API key after 'Bearer'."), code="missing"
            )
        try:
            key = api_keys.authenticate(token)
        except api_keys.InvalidKey as exc:
            raise exceptions.AuthenticationFailed(str(exc), code=exc.reason) from None
        return ApiPrincipal(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Names API key authentication in the OpenAPI schema (drf-spectacular finds it by target_class)."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Siyu API key, sy_<prefix>_<secret>"}
