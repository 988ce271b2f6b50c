"""The shape of GET /api/v1/campaigns/{id}/results/: a campaign's funnel per store and per staff
member, its links' clicks and the holdout comparison (campaigns.services.results), as typed
serializers so the schema documents every figure."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.models import DeliveryState
from campaigns.services import results as service
from scrm.models import Store

MONEY = {"max_digits": 16, "decimal_places": 2, "coerce_to_string": True}


class FiguresSerializer(serializers.Serializer):
    targeted = serializers.IntegerField(help_text="Members of the segment when sending started (a delivery each).")
    held_out = serializers.IntegerField(help_text="Kept out at random to measure the campaign against.")
    suppressed = serializers.IntegerField(help_text="Not sent, with a reason (see reasons).")
    waiting = serializers.IntegerField(help_text="Pending or being sent.")
    failed = serializers.IntegerField()
    sent = serializers.IntegerField(help_text="Handed to the channel (sent, or waiting for a staff member's "
                                              "confirmation).")
    delivered = serializers.IntegerField(help_text="Sent and confirmed: the member has the message.")
    clicked = serializers.IntegerField(help_text="Members who opened one of the campaign's links.")
    clicks = serializers.IntegerField(help_text="Their clicks (one a member a link a minute).")
    converted = serializers.IntegerField(help_text="Members with an order attributed to this campaign (last touch).")
    orders = serializers.IntegerField(help_text="Orders attributed to this campaign.")
    revenue = serializers.DecimalField(help_text="Their amount net of refunds.", min_value=0, **MONEY)


class ResultsStoreSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class ResultsStaffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()


class StoreGroupSerializer(serializers.Serializer):
    store = serializers.SerializerMethodField(help_text="The members' home store; null for members without one.")
    figures = FiguresSerializer()

    @extend_schema_field(ResultsStoreSerializer(allow_null=True))
    def get_store(self, group):
        return {"id": group.id, "code": group.code, "name": group.name} if group.id else None


class StaffGroupSerializer(serializers.Serializer):
    staff = serializers.SerializerMethodField(help_text="The staff member it was sent through; null for none "
                                                        "(channels that send as the brand).")
    figures = FiguresSerializer()

    @extend_schema_field(ResultsStaffSerializer(allow_null=True))
    def get_staff(self, group):
        return {"id": group.id, "username": group.code, "name": group.name} if group.id else None


class ReasonCountSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    reason = serializers.CharField(help_text="A DeliveryReason code.")
    count = serializers.IntegerField()


class LinkFiguresSerializer(serializers.Serializer):
    code = serializers.CharField()
    target_url = serializers.CharField()
    clicks = serializers.IntegerField(help_text="Clicks, with those whose token named nobody (operators only).")
    members = serializers.IntegerField(help_text="Members who clicked it.")


class ArmSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    converted = serializers.IntegerField(help_text="Members who ordered in the window (any order).")
    conversion_rate = serializers.FloatField(allow_null=True, help_text="converted / members; null with no members.")
    revenue = serializers.DecimalField(min_value=0, help_text="Net of refunds.", **MONEY)
    revenue_per_member = serializers.DecimalField(allow_null=True, min_value=0, **MONEY)


class UpliftSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The campaign's start.")
    end = serializers.DateTimeField(help_text="The window's end, or now while it runs.")
    complete = serializers.BooleanField(help_text="Whether the whole window has passed.")
    sent = ArmSerializer(help_text="Members the message was delivered to.")
    held_out = ArmSerializer(help_text="Members held out.")
    conversion_difference = serializers.FloatField(
        allow_null=True, help_text="Sent's conversion rate minus held out's: the uplift."
    )
    revenue_per_member_difference = serializers.DecimalField(allow_null=True, **MONEY)
    z = serializers.FloatField(allow_null=True, help_text="Two-proportion z statistic; null when too few to tell.")
    p_value = serializers.FloatField(allow_null=True, help_text="Its two-sided p-value.")
    verdict = serializers.ChoiceField(choices=list(service.VERDICTS))
    verdict_text = serializers.CharField(help_text="The verdict in the reader's language.")


class ResultsSerializer(serializers.Serializer):
    campaign = serializers.IntegerField(source="campaign.pk")
    started = serializers.BooleanField(help_text="False until the campaign starts sending (then every figure is 0).")
    window_days = serializers.IntegerField(help_text="Days after a delivery or a click an order counts for it.")
    summarised = serializers.BooleanField(
        help_text="True for a campaign with more recipients than SIYU_RESULTS_LIVE_MAX: its figures come from a "
                  "summary refreshed in the background (see as_of), not summed for this request.")
    as_of = serializers.DateTimeField(
        allow_null=True, help_text="When a summarised campaign's figures were summed; null while the first summary "
                                   "is being made (every figure is then 0) and for campaigns summed live.")
    store = serializers.SerializerMethodField(help_text="The store the figures are cut to (a store role's own); "
                                                        "null: every store.")
    funnel = FiguresSerializer()
    reasons = ReasonCountSerializer(many=True, help_text="Suppressed and failed deliveries by reason.")
    by_store = StoreGroupSerializer(many=True)
    by_staff = StaffGroupSerializer(many=True)
    links = LinkFiguresSerializer(many=True)
    uplift = UpliftSerializer(allow_null=True)

    def get_store(self, results) -> str | None:
        return self.context.get("store_code")


def answer(campaign, actor) -> dict:
    """The results of `campaign` as `actor` may see them, serialized."""
    figures = service.campaign_results(campaign=campaign, actor=actor)
    code = None
    if figures.store_id is not None:
        code = Store.objects.filter(pk=figures.store_id).values_list("code", flat=True).first()
    return ResultsSerializer(figures, context={"store_code": code}).data
