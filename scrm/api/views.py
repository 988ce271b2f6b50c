"""API views for the organisation: the API root, the caller, regions, stores and staff."""

from __future__ import annotations

from django.http import HttpResponse
from django.template import engines
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from scrm.api import serializers
from scrm.api.pagination import cursor_ordered_by
from scrm.api.viewsets import ScopedModelViewSet, ScopedReadOnlyViewSet
from scrm.filters import StaffFilterSet, StoreFilterSet
from scrm.models import Region, Store, User
from scrm.permissions import scopes_of
from scrm.scoping import access_for
from scrm.services import stores


class ApiRootView(APIView):
    """Lists the API's resources, with links to the schema and the docs."""

    permission_classes = [permissions.AllowAny]
    resources: list[tuple[str, str]] = []  # (name, url name), filled in by scrm.api.urls

    @extend_schema(exclude=True)
    def get(self, request):
        links = {}
        for name, url_name in self.resources:
            try:
                links[name] = request.build_absolute_uri(reverse(url_name))
            except NoReverseMatch:
                continue
        return Response(
            {
                "name": "Siyu API",
                "version": "v1",
                "authentication": "Authorization: Bearer <API key>",
                "resources": links,
                "schema": request.build_absolute_uri(reverse("api:schema")) + "?format=json",
                "docs": request.build_absolute_uri(reverse("api:docs")),
            }
        )


class MeView(APIView):
    """Who the caller is, which stores it reaches and which scopes it holds."""

    @extend_schema(responses=serializers.MeSerializer)
    def get(self, request):
        actor = request.user
        access = access_for(actor)
        api_key = getattr(actor, "api_key", None)
        store = api_key.store if api_key is not None else getattr(actor, "store", None)
        data = {
            "kind": "api_key" if api_key is not None else "staff",
            "name": api_key.name if api_key is not None else actor.get_username(),
            "role": actor.role,
            "store": store.code if store is not None else None,
            "all_stores": access.all_stores,
            "scopes": sorted(scopes_of(actor)),
        }
        return Response(serializers.MeSerializer(data).data)


class RegionViewSet(ScopedReadOnlyViewSet):
    queryset = Region.objects.all()
    serializer_class = serializers.RegionSerializer
    scope_resource = "stores"
    pagination_class = cursor_ordered_by("code")


class StoreViewSet(ScopedModelViewSet):
    queryset = Store.objects.select_related("region")
    serializer_class = serializers.StoreSerializer
    filterset_class = StoreFilterSet
    scope_resource = "stores"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = stores.create_store(actor=self.request.user, values=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = stores.update_store(
            actor=self.request.user, store=serializer.instance, values=serializer.validated_data
        )


class StaffViewSet(ScopedReadOnlyViewSet):
    queryset = User.objects.select_related("store")
    serializer_class = serializers.StaffSerializer
    filterset_class = StaffFilterSet
    scope_resource = "staff"


# drf-spectacular's Redoc page with its <head> minus the Google Fonts links.
_REDOC_PAGE = """{% extends "drf_spectacular/redoc.html" %}{% block head %}
<title>{{ title|default:"Redoc" }}</title>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body { margin: 0; padding: 0; }</style>
{% endblock head %}"""


class RedocView(SpectacularRedocView):
    """The Redoc page, loading nothing but our own static files: Google Fonts is blocked in mainland
    China (the page would hang) and would tell a third party about every docs visit."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        context = super().get(request, *args, **kwargs).data
        return HttpResponse(engines["django"].from_string(_REDOC_PAGE).render(context, request))
