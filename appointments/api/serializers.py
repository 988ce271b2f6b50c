"""Serializers of the appointments API: what it answers, and the bodies it takes (strict fields)."""

from __future__ import annotations

from rest_framework import serializers

from appointments.models import Booking, BookingSource, CancelledBy, PriceKind, Service, VisitPlace
from scrm.api import fields as strict


class ServiceSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True,
                                         help_text="The store's code; null: brand-wide.")
    price_amount = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)

    class Meta:
        model = Service
        fields = ["id", "store", "name", "description", "duration_minutes", "price_kind", "price_amount",
                  "points_price", "skill", "buffer_minutes", "min_notice_minutes", "max_days_ahead", "cancel_hours",
                  "place", "travel_minutes", "follow_up_days", "follow_up_text", "is_active", "created_at"]
        read_only_fields = fields


class _ServiceFields(serializers.Serializer):
    name = strict.CharField(max_length=80)
    description = strict.CharField(required=False, allow_blank=True, max_length=5000)
    duration_minutes = strict.IntegerField(min_value=5, max_value=720)
    price_kind = strict.ChoiceField(choices=PriceKind.choices, required=False)
    price_amount = strict.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    points_price = strict.IntegerField(min_value=0, max_value=1_000_000, required=False)
    skill = strict.IntegerField(min_value=1, required=False, allow_null=True, help_text="A skill id; null: anyone.")
    buffer_minutes = strict.IntegerField(min_value=0, max_value=240, required=False)
    min_notice_minutes = strict.IntegerField(min_value=0, max_value=20160, required=False)
    max_days_ahead = strict.IntegerField(min_value=1, max_value=365, required=False)
    cancel_hours = strict.IntegerField(min_value=0, max_value=336, required=False)
    place = strict.ChoiceField(choices=VisitPlace.choices, required=False)
    travel_minutes = strict.IntegerField(min_value=0, max_value=240, required=False)
    follow_up_days = strict.IntegerField(min_value=0, max_value=365, required=False)
    follow_up_text = strict.CharField(required=False, allow_blank=True, max_length=200)
    is_active = strict.BooleanField(required=False)


class ServiceInputSerializer(_ServiceFields):
    store = strict.CharField(required=False, allow_null=True, default=None,
                             help_text="The store's code; null or absent: brand-wide (operators).")


class ServicePatchSerializer(_ServiceFields):
    name = strict.CharField(max_length=80, required=False)
    duration_minutes = strict.IntegerField(min_value=5, max_value=720, required=False)


class SlotSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    staff = serializers.ListField(child=serializers.IntegerField(), source="staff_ids",
                                  help_text="The staff members free then (ids).")


class AvailabilitySerializer(serializers.Serializer):
    service = serializers.IntegerField()
    store = serializers.CharField(help_text="The store's code.")
    slots = SlotSerializer(many=True)


class BookingSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    # Blank until the booking is cancelled: the schema's enum says so (BlankEnum), or every answer breaks it.
    cancelled_by = serializers.ChoiceField(choices=CancelledBy.choices, allow_blank=True, read_only=True,
                                           help_text="Who cancelled it; empty while it is not cancelled.")

    class Meta:
        model = Booking
        fields = ["id", "member", "service", "staff", "store", "starts_at", "ends_at", "held_from", "held_until",
                  "state", "source", "address", "member_note", "notes", "points_paid", "rescheduled_from",
                  "created_at", "cancelled_at", "cancelled_by", "checked_in_at", "completed_at", "no_show_at"]
        read_only_fields = fields


class BookingInputSerializer(serializers.Serializer):
    member = strict.IntegerField(min_value=1)
    service = strict.IntegerField(min_value=1)
    store = strict.CharField(max_length=32, help_text="The store's code.")
    starts_at = serializers.DateTimeField(help_text="With its offset; a free slot's start (see availability).")
    staff = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                help_text="A staff member; absent: any free one who provides the service.")
    source = strict.ChoiceField(choices=BookingSource.choices, required=False, default=BookingSource.API)
    address = strict.CharField(required=False, allow_blank=True, default="", max_length=200,
                               help_text="Required for a visit at home.")
    member_note = strict.CharField(required=False, allow_blank=True, default="", max_length=500)


class BookingCancelInputSerializer(serializers.Serializer):
    by = strict.ChoiceField(choices=CancelledBy.choices, required=False, default=CancelledBy.STORE,
                            help_text="member: within the service's cancellation rule; store: any time before.")


class BookingRescheduleInputSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    staff = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    by = strict.ChoiceField(choices=CancelledBy.choices, required=False, default=CancelledBy.STORE)


class VisitCompleteInputSerializer(serializers.Serializer):
    notes = strict.CharField(required=False, allow_blank=True, default="", max_length=4000)
