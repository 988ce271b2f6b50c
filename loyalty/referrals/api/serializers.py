"""Serializers of the referrals API: reads are ModelSerializers; writes are validated by the
services, so the API and the dashboard give the same errors."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.referrals import queries
from loyalty.referrals.models import Commission, CommissionRule, Referral, ReferralCode
from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer


class ReferralCodeSerializer(StrictModelSerializer):
    link = serializers.SerializerMethodField()

    class Meta:
        model = ReferralCode
        fields = ["id", "member", "code", "link", "created_at"]

    @extend_schema_field(strict.CharField(help_text="The member's referral link (SIYU_REFERRAL_LINK)."))
    def get_link(self, obj) -> str:
        return queries.referral_link(obj.code)


class CodeInputSerializer(serializers.Serializer):
    member = strict.IntegerField(help_text="Member id; answers with their code, made now if they had none.")


class ReferralSerializer(StrictModelSerializer):
    source = strict.CharField(read_only=True, help_text="order (the first order carrying a code) or api.")

    class Meta:
        model = Referral
        fields = ["id", "member", "referrer", "code", "order", "source", "created_at"]


class ReferralInputSerializer(serializers.Serializer):
    member = strict.IntegerField(help_text="The referred member.")
    code = strict.CharField(help_text="The referrer's code.")


class CommissionRuleSerializer(StrictModelSerializer):
    class Meta:
        model = CommissionRule
        fields = [
            "id",
            "name",
            "channel",
            "category",
            "rate",
            "fixed_amount",
            "return_window_days",
            "priority",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class CommissionSerializer(StrictModelSerializer):
    explanation = strict.CharField(read_only=True)
    order_number = strict.CharField(source="order.external_id", read_only=True)
    channel = strict.CharField(source="order.channel", read_only=True)

    class Meta:
        model = Commission
        fields = [
            "id",
            "order",
            "order_number",
            "channel",
            "referrer",
            "referred_member",
            "rule",
            "code",
            "category",
            "rate",
            "fixed_amount",
            "base_amount",
            "original_amount",
            "amount",
            "currency",
            "status",
            "cancel_reason",
            "explanation",
            "placed_at",
            "payable_at",
            "paid_at",
            "updated_at",
        ]


class MarkPaidInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=strict.IntegerField(), min_length=1, help_text="Payable commissions to mark paid."
    )


class MarkPaidResultSerializer(serializers.Serializer):
    marked_paid = strict.IntegerField()
