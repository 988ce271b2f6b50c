"""API: channel codes (under /api/v1/wecom/channel-codes/), with their counts; store-scoped.

Create and edit take JSON: name, purpose (store / staff / campaign), store (its code), staff (WeCom
userids), tags (tag ids), welcome_enabled, welcome_text, skip_verify. DELETE deactivates the code
(WeCom's contact way is deleted; the row and its counts stay)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from members.models import Tag
from scrm.api import fields as strict
from scrm.api.body import json_object
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedModelViewSet
from scrm.errors import InvalidInput
from scrm.filters import StoreFilter
from scrm.models import Store
from scrm.scoping import scope
from wecom.models import ChannelCode, ChannelPurpose
from wecom.services import channels as services


class ChannelCodeFilterSet(django_filters.FilterSet):
    store = StoreFilter(field_name="store", label=gettext_lazy("Store"))
    purpose = django_filters.ChoiceFilter(choices=ChannelPurpose.choices, label=gettext_lazy("For"))
    is_active = django_filters.BooleanFilter(label=gettext_lazy("Active"))

    class Meta:
        model = ChannelCode
        fields = ["store", "purpose", "is_active"]


class ChannelCodeSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    staff = serializers.SlugRelatedField(slug_field="userid", many=True, read_only=True)
    tags = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    added = serializers.IntegerField(read_only=True, help_text="Contacts added through the code's state.")
    following = serializers.IntegerField(read_only=True, help_text="Of those, still a contact.")
    churned = serializers.IntegerField(read_only=True, help_text="Of those, no longer a contact.")
    added_7d = serializers.IntegerField(read_only=True, help_text="Added in the last 7 days.")
    added_30d = serializers.IntegerField(read_only=True, help_text="Added in the last 30 days.")

    class Meta:
        model = ChannelCode
        fields = [
            "id", "name", "purpose", "store", "staff", "state", "config_id", "qr_code", "skip_verify", "tags",
            "welcome_enabled", "welcome_text", "is_active", "sync_error", "created_at", "updated_at",
            "added", "following", "churned", "added_7d", "added_30d",
        ]
        read_only_fields = fields


class ChannelCodeInputSerializer(serializers.Serializer):
    name = strict.CharField(help_text="At most 64 characters (WeCom's remark takes the first 30).")
    purpose = strict.ChoiceField(choices=ChannelPurpose.choices, required=False)
    store = strict.CharField(required=False, allow_null=True,
                             help_text="Store code; null for a brand-wide campaign.")
    staff = serializers.ListField(child=strict.CharField(max_length=64), min_length=1, max_length=100,
                                  help_text="WeCom userids of the code's staff (a staff code: exactly one).")
    tags = serializers.ListField(child=strict.IntegerField(), required=False, help_text="Tags for new contacts.")
    welcome_enabled = strict.BooleanField(required=False)
    welcome_text = strict.CharField(
        required=False,
        help_text="Plain text, at most 4,000 bytes. {name} is replaced by the customer's WeChat name (empty when "
                  "WeCom gives none); any other {...} placeholder is refused (400).",
    )
    skip_verify = strict.BooleanField(required=False)


def _resolve(request, body: dict) -> dict:
    """The JSON body as the service takes it: store, staff and tags found among what the caller sees."""
    data = {k: body[k] for k in ("name", "purpose", "welcome_enabled", "welcome_text", "skip_verify") if k in body}
    problems = {}
    for key in ("welcome_enabled", "skip_verify"):
        if key in data and not isinstance(data[key], bool):
            problems[key] = [_("Expected true or false.")]
    for key in ("name", "purpose", "welcome_text"):
        if key in data and not isinstance(data[key], str):
            problems[key] = [_("Expected a string.")]
    if "store" in body:
        if body["store"] is None:
            data["store"] = None
        elif not isinstance(body["store"], str):
            problems["store"] = [_("Expected a store code.")]
        else:
            data["store"] = scope(Store.objects.all(), request.user).filter(code=body["store"]).first()
            if data["store"] is None:
                problems["store"] = [_("Unknown store %(code)s.") % {"code": body["store"][:40]}]
    if "staff" in body:
        ids = body["staff"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            problems["staff"] = [_("Expected a list of WeCom userids.")]
        else:
            found = {s.userid: s for s in services.staff_choices(request.user).filter(userid__in=ids)}
            missing = [i for i in ids if i not in found]
            if missing:
                problems["staff"] = [_("Unknown staff: %(ids)s.") % {"ids": ", ".join(m[:64] for m in missing[:10])}]
            data["staff"] = [found[i] for i in dict.fromkeys(ids) if i in found]
    if "tags" in body:
        ids = body["tags"]
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            problems["tags"] = [_("Expected a list of tag ids.")]
        else:
            found = {t.pk: t for t in Tag.objects.filter(pk__in=ids, rule__isnull=True)}
            missing = [i for i in ids if i not in found]
            if missing:
                problems["tags"] = [_("Unknown tag %(id)s.") % {"id": i} for i in missing[:10]]
            data["tags"] = list(found.values())
    if problems:
        raise InvalidInput(details=problems)
    return data


@extend_schema_view(
    list=extend_schema(summary="Channel codes with their counts (filter by store, purpose, active)"),
    retrieve=extend_schema(summary="A channel code with its counts"),
    create=extend_schema(summary="Create a channel code (created in WeCom by a worker)",
                         request=ChannelCodeInputSerializer, responses={201: ChannelCodeSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Edit a channel code", request=ChannelCodeInputSerializer,
                                 responses={200: ChannelCodeSerializer, **ERRORS}),
    destroy=extend_schema(summary="Deactivate a channel code (deleted in WeCom; counts kept)",
                          responses={204: None, **ERRORS}),
)
class ChannelCodeViewSet(ScopedModelViewSet):
    queryset = ChannelCode.objects.select_related("store").prefetch_related("staff", "tags").order_by("-id")
    serializer_class = ChannelCodeSerializer
    filterset_class = ChannelCodeFilterSet
    scope_resource = "wecom_channel_codes"
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def filter_queryset(self, queryset):
        return services.with_counts(super().filter_queryset(queryset))

    def _answer(self, code, status_code=200):
        code = services.with_counts(self.get_queryset()).get(pk=code.pk)
        return Response(ChannelCodeSerializer(code).data, status=status_code)

    def create(self, request, *args, **kwargs):
        code = services.create_code(actor=request.user, data=_resolve(request, json_object(request)))
        return self._answer(code, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        code = services.update_code(code=self.get_object(), actor=request.user,
                                    data=_resolve(request, json_object(request)))
        return self._answer(code)

    def destroy(self, request, *args, **kwargs):
        services.deactivate_code(code=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router) -> None:
    router.register("wecom/channel-codes", ChannelCodeViewSet, basename="wecom-channel-code")
