"""Serializers of the organisation API, and the base every model serializer of the API builds on."""

from __future__ import annotations

from rest_framework import serializers

from scrm.api import fields as strict
from scrm.models import ApiKey, Region, Store, User


# A ModelSerializer whose fields built from the model are scrm.api.fields' strict ones: a JSON body's
# values are of the type the schema says, or a 400 names the field. (No docstring: the OpenAPI schema
# would show it as the description of every serializer that has none of its own.)
class StrictModelSerializer(serializers.ModelSerializer):

    serializer_field_mapping = {
        model_field: strict.MODEL_FIELD_MAPPING.get(field_class, field_class)
        for model_field, field_class in serializers.ModelSerializer.serializer_field_mapping.items()
    }
    serializer_related_field = strict.PrimaryKeyRelatedField
    serializer_related_to_field = strict.SlugRelatedField
    serializer_choice_field = strict.ChoiceField


class RegionSerializer(StrictModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "code", "name"]


class StoreSerializer(StrictModelSerializer):
    region = strict.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    region_name = strict.CharField(source="region.name", read_only=True)

    class Meta:
        model = Store
        fields = ["id", "code", "name", "region", "region_name", "city", "address", "opened_on", "is_active"]


class StaffSerializer(StrictModelSerializer):
    store = strict.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "store", "is_active", "last_login"]


class ApiKeySerializer(StrictModelSerializer):
    store = strict.SlugRelatedField(slug_field="code", read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "store", "created_at", "expires_at", "revoked_at",
                  "last_used_at", "active"]

    def get_active(self, obj) -> bool:
        return obj.is_active()


class MeSerializer(serializers.Serializer):
    kind = strict.ChoiceField(choices=["staff", "api_key"])
    name = strict.CharField()
    role = strict.CharField()
    store = strict.CharField(allow_null=True)
    all_stores = strict.BooleanField()
    scopes = serializers.ListField(child=strict.CharField())
