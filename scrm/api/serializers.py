from __future__ import annotations

from rest_framework import serializers

from scrm.models import ApiKey, Region, Store, User


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "code", "name"]


class StoreSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    region_name = serializers.CharField(source="region.name", read_only=True)

    class Meta:
        model = Store
        fields = ["id", "code", "name", "region", "region_name", "city", "address", "opened_on", "is_active"]


class StaffSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "store", "is_active", "last_login"]


class ApiKeySerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "store", "created_at", "expires_at", "revoked_at",
                  "last_used_at", "active"]

    def get_active(self, obj) -> bool:
        return obj.is_active()


class MeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["staff", "api_key"])
    name = serializers.CharField()
    role = serializers.CharField()
    store = serializers.CharField(allow_null=True)
    all_stores = serializers.BooleanField()
    scopes = serializers.ListField(child=serializers.CharField())
