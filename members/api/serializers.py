from __future__ import annotations

from rest_framework import serializers

from members.models import Member


class MemberSerializer(serializers.ModelSerializer):
    home_store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Member
        fields = ["id", "name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage",
                  "created_at", "updated_at"]
