"""Serializers of the communities API: what it answers, and the bodies it takes (strict fields)."""

from __future__ import annotations

from rest_framework import serializers

from communities.models import (
    CancelledBy,
    CheckIn,
    CheckInSource,
    Community,
    CommunityKind,
    CommunityMembership,
    CommunityStatus,
    Event,
    EventFeedback,
    InvitationBatch,
    MembershipRole,
    MembershipSource,
    SignUp,
    SignUpSource,
)
from scrm import actors
from scrm.api import fields as strict


class CommunitySerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    assistants = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Community
        fields = ["id", "store", "name", "kind", "description", "status", "capacity", "owner", "assistants",
                  "wecom_chat_id", "auto_segment", "auto_ran_at", "auto_result", "created_at", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {"auto_segment": {"help_text": "The standing rule's segment: its members of the store are "
                                                      "members automatically; null: no rule."},
                        "auto_result": {"help_text": "The rule's last run: added, removed, left_out (beyond the "
                                                     "capacity), members, error (nothing changed)."}}


class CommunityInputSerializer(serializers.Serializer):
    store = strict.CharField(help_text="The store's code (store accounts: their own).")
    name = strict.CharField(max_length=80)
    owner = strict.IntegerField(min_value=1, help_text="The staff member (of the store) who runs it.")
    kind = strict.ChoiceField(choices=CommunityKind.choices, required=False, default=CommunityKind.OTHER)
    description = strict.CharField(required=False, allow_blank=True, default="", max_length=5000)
    capacity = strict.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    assistants = serializers.ListField(child=strict.IntegerField(min_value=1), required=False, default=list,
                                       max_length=50)
    wecom_chat_id = strict.CharField(required=False, allow_blank=True, default="", max_length=64)


class CommunityPatchSerializer(serializers.Serializer):
    name = strict.CharField(max_length=80, required=False)
    owner = strict.IntegerField(min_value=1, required=False)
    kind = strict.ChoiceField(choices=CommunityKind.choices, required=False)
    status = strict.ChoiceField(choices=CommunityStatus.choices, required=False)
    description = strict.CharField(required=False, allow_blank=True, max_length=5000)
    capacity = strict.IntegerField(required=False, allow_null=True, min_value=1)
    assistants = serializers.ListField(child=strict.IntegerField(min_value=1), required=False, max_length=50)
    wecom_chat_id = strict.CharField(required=False, allow_blank=True, max_length=64)
    auto_segment = strict.IntegerField(required=False, allow_null=True, min_value=1,
                                       help_text="A segment the caller reaches: its members of the store join "
                                                 "automatically (run at once and daily); null removes the rule.")


class InvitationBatchSerializer(serializers.ModelSerializer):
    handed = serializers.IntegerField(read_only=True, help_text="Invitations handed to the notices' channel "
                                                                "(consent and caps decide there whether each is sent).")
    joined = serializers.IntegerField(read_only=True, help_text="Members who joined through their invitation.")

    class Meta:
        model = InvitationBatch
        fields = ["id", "community", "segment", "message", "invited", "handed", "joined", "expires_at", "created_at"]
        read_only_fields = fields


class InvitationInputSerializer(serializers.Serializer):
    members = serializers.ListField(child=strict.IntegerField(min_value=1), required=False, min_length=1,
                                    max_length=1000, help_text="Members to invite (live, of the community's store).")
    segment = strict.IntegerField(required=False, min_value=1, help_text="Or: a saved segment's members of the store.")
    message = strict.CharField(required=False, allow_blank=True, default="", max_length=300,
                               help_text="The message's first words; the member's join link is added.")
    days = strict.IntegerField(required=False, default=14, min_value=1, max_value=60,
                               help_text="How long the invitations can be taken.")


class PhotoSerializer(serializers.Serializer):
    url = strict.CharField(max_length=1000, help_text="An http(s) link to the photo.")
    caption = strict.CharField(required=False, allow_blank=True, default="", max_length=200)


class PhotosInputSerializer(serializers.Serializer):
    photos = PhotoSerializer(many=True, max_length=50, help_text="The event's photos (replacing the list).")


class FeedbackSerializer(serializers.ModelSerializer):
    class Meta:
        model = EventFeedback
        fields = ["id", "event", "member", "rating", "comment", "source", "created_at", "updated_at"]
        read_only_fields = fields


class FeedbackInputSerializer(serializers.Serializer):
    member = strict.IntegerField(min_value=1, help_text="An attendee (checked in).")
    rating = strict.IntegerField(min_value=1, max_value=5)
    comment = strict.CharField(required=False, allow_blank=True, default="", max_length=500)


class SegmentEntryInputSerializer(serializers.Serializer):
    segment = strict.IntegerField(min_value=1, help_text="A saved segment the caller reaches.")
    role = strict.ChoiceField(choices=MembershipRole.choices, required=False, default=MembershipRole.MEMBER)


class SegmentEntryQuerySerializer(serializers.Serializer):
    segment = strict.IntegerField(min_value=1, help_text="A saved segment the caller reaches.")


class SuggestedMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SegmentSuggestionSerializer(serializers.Serializer):
    segment = serializers.IntegerField(help_text="The segment asked about.")
    count = serializers.IntegerField(help_text="Its live members of the community's store not in the community yet.")
    sample = SuggestedMemberSerializer(many=True, help_text="The newest of them, at most 20.")


class SegmentAddedSerializer(serializers.Serializer):
    segment = serializers.IntegerField()
    added = serializers.IntegerField(help_text="Members added now (0 when every one was in already).")
    members = serializers.IntegerField(help_text="The community's members now.")


class CommunityFiguresSerializer(serializers.Serializer):
    community = serializers.IntegerField()
    members = serializers.IntegerField(help_text="Current members (live profiles).")
    joined_30_days = serializers.IntegerField(help_text="Current members who joined in the last 30 days.")
    active_members = serializers.IntegerField(help_text="Current members who signed up for or attended one of "
                                                        "its events in the last 90 days.")
    active_share = serializers.DecimalField(max_digits=5, decimal_places=3, allow_null=True,
                                            help_text="active_members / members; null without members.")
    events_held = serializers.IntegerField(help_text="Its events not cancelled that have started.")
    signups = serializers.IntegerField(help_text="Seats taken at the events held (confirmed, offered, attended).")
    attended = serializers.IntegerField(help_text="Of those seats, checked in.")
    attendance_rate = serializers.DecimalField(max_digits=5, decimal_places=3, allow_null=True,
                                               help_text="attended / signups; null without sign-ups.")
    repeat_attendees = serializers.IntegerField(help_text="Members checked in at two or more of its events.")
    order_value_per_member = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True,
        help_text="Net order value (paid less refunded) of its members in the last 90 days, per member.")
    other_store_members = serializers.IntegerField(help_text="Live members of the community's store not in it.")
    other_order_value_per_member = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True,
        help_text="The same for the store's other members, per member.")
    ratings = serializers.IntegerField(help_text="Feedback given on its events held.")
    rating_average = serializers.DecimalField(max_digits=3, decimal_places=1, allow_null=True,
                                              help_text="Their average rating (1 to 5); null without any.")


class MembershipSerializer(serializers.ModelSerializer):
    class Meta:
        model = CommunityMembership
        fields = ["id", "community", "member", "role", "source", "joined_at", "left_at"]
        read_only_fields = fields


class JoinInputSerializer(serializers.Serializer):
    member = strict.IntegerField(min_value=1)
    role = strict.ChoiceField(choices=MembershipRole.choices, required=False, default=MembershipRole.MEMBER)
    source = strict.ChoiceField(choices=MembershipSource.choices, required=False, default=MembershipSource.API)


class PhotoAnswerSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="An http(s) link to the photo.")
    caption = serializers.CharField(help_text="Empty when none was given.")


class EventSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    seats_left = serializers.IntegerField(read_only=True)
    photos = PhotoAnswerSerializer(many=True, read_only=True, help_text="Links to the event's photos, in order.")

    class Meta:
        model = Event
        fields = ["id", "community", "store", "title", "description", "place", "starts_at", "ends_at", "capacity",
                  "seats_taken", "seats_left", "waitlist_seq", "signup_opens_at", "signup_closes_at",
                  "offer_minutes", "walk_ins_allowed", "attendance_tag", "points_price", "ask_feedback", "status",
                  "photos", "created_at", "cancelled_at"]
        read_only_fields = fields


class EventInputSerializer(serializers.Serializer):
    community = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                    help_text="The community's id; empty for a brand-wide event (operators).")
    store = strict.CharField(required=False, allow_null=True, default=None,
                             help_text="A brand-wide event's host store (a code); a community's event is its store's.")
    title = strict.CharField(max_length=100)
    description = strict.CharField(required=False, allow_blank=True, default="", max_length=5000)
    place = strict.CharField(max_length=200)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    capacity = strict.IntegerField(min_value=1)
    signup_opens_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    signup_closes_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                                 help_text="Empty: when the event starts.")
    offer_minutes = strict.IntegerField(required=False, default=120, min_value=1, max_value=7 * 24 * 60)
    walk_ins_allowed = strict.BooleanField(required=False, default=True)
    ask_feedback = strict.BooleanField(required=False, default=True,
                                       help_text="Whether attendees get their feedback link after the event.")
    attendance_tag = strict.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                         help_text="A tag's id; empty: the tag 'attended: <title>'.")
    points_price = strict.IntegerField(required=False, default=0, min_value=0, max_value=1_000_000,
                                       help_text="Points a seat costs (spent when the seat is taken); 0: free.")


class EventPatchSerializer(serializers.Serializer):
    title = strict.CharField(max_length=100, required=False)
    description = strict.CharField(required=False, allow_blank=True, max_length=5000)
    place = strict.CharField(max_length=200, required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    capacity = strict.IntegerField(min_value=1, required=False)
    signup_opens_at = serializers.DateTimeField(required=False, allow_null=True)
    signup_closes_at = serializers.DateTimeField(required=False, allow_null=True)
    offer_minutes = strict.IntegerField(required=False, min_value=1, max_value=7 * 24 * 60)
    walk_ins_allowed = strict.BooleanField(required=False)
    ask_feedback = strict.BooleanField(required=False)
    points_price = strict.IntegerField(required=False, min_value=0, max_value=1_000_000,
                                       help_text="For sign-ups from now on; who paid keeps what they paid.")


class SignUpSerializer(serializers.ModelSerializer):
    cancelled_by = serializers.CharField(read_only=True, help_text="Who cancelled: member or organiser; empty "
                                                                   "while it is not cancelled.")

    class Meta:
        model = SignUp
        fields = ["id", "event", "member", "state", "position", "code", "source", "created_at", "confirmed_at",
                  "offered_at", "offer_expires_at", "cancelled_at", "cancelled_by", "points_paid",
                  "points_refunded_at"]
        read_only_fields = fields


class SignUpInputSerializer(serializers.Serializer):
    member = strict.IntegerField(min_value=1)
    source = strict.ChoiceField(choices=SignUpSource.choices, required=False, default=SignUpSource.API)


class SignUpCancelInputSerializer(serializers.Serializer):
    by = strict.ChoiceField(choices=CancelledBy.choices, required=False, default=CancelledBy.ORGANISER,
                            help_text="Who cancels: the member (through the caller) or the organiser.")


class CheckInSerializer(serializers.ModelSerializer):
    staff_name = serializers.SerializerMethodField(help_text="Who checked the member in.")

    class Meta:
        model = CheckIn
        fields = ["id", "event", "member", "signup", "walk_in", "staff", "staff_name", "device", "source", "at"]
        read_only_fields = fields

    def get_staff_name(self, obj) -> str:
        return actors.stored_actor_display(obj.staff, obj.staff_label)


class CheckInAnswerSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False: the member was already checked in (see checkin).")
    message = serializers.CharField(help_text="The answer in words, for the phone.")
    checkin = CheckInSerializer()


class CheckInInputSerializer(serializers.Serializer):
    code = strict.CharField(required=False, max_length=32, help_text="The ticket code, scanned or typed.")
    member = strict.IntegerField(required=False, min_value=1, help_text="A member id (from the list, or a walk-in).")
    source = strict.ChoiceField(choices=CheckInSource.choices)
    device = strict.CharField(required=False, allow_blank=True, default="", max_length=64,
                              help_text="Which phone or door.")


class ScanInputSerializer(serializers.Serializer):
    code = strict.CharField(required=False, max_length=32, help_text="The ticket code, scanned or typed.")
    member = strict.IntegerField(required=False, min_value=1, help_text="A member id (from the list, or a walk-in).")
    source = strict.ChoiceField(choices=CheckInSource.choices, required=False, default=CheckInSource.SCAN)
    device = strict.CharField(required=False, allow_blank=True, default="", max_length=64,
                              help_text="Which phone or door.")
    at = serializers.DateTimeField(help_text="When the phone scanned it (its own clock); the earlier scan wins.")


class CheckInBatchInputSerializer(serializers.Serializer):
    scans = serializers.ListField(child=ScanInputSerializer(), min_length=1, max_length=500,
                                  help_text="A phone's scans made while offline, in any order.")


class ScanAnswerSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The scan's place in the batch sent.")
    outcome = serializers.ChoiceField(
        choices=["checked_in", "already", "earlier_kept", "replaced", "refused"],
        help_text="checked_in: the first check-in; already: this scan was synced before; earlier_kept: another "
                  "scan was first, this one is kept as a conflict; replaced: this scan was first, the later "
                  "check-in is kept as a conflict; refused: no such ticket, no walk-ins.")
    message = serializers.CharField(help_text="The answer in words, for the phone.")
    checkin = CheckInSerializer(allow_null=True, help_text="The check-in that stands (none when refused).")


class CheckInBatchAnswerSerializer(serializers.Serializer):
    results = ScanAnswerSerializer(many=True)
