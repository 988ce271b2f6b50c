"""Serializers of the member API. Reads are ModelSerializers; writes that carry business rules are
documented here (for OpenAPI) but validated by the services, so the API, imports and tasks give
the same errors. The limits and choices documented are the services' own (taken from the models),
and tests/members/test_serializer_contract.py holds each input serializer to its service."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from members.models import (
    AddWay,
    AttributeDefinition,
    Consent,
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    Gender,
    Identity,
    Member,
    MemberEvent,
    MemberMerge,
    MemberTag,
    ServiceNote,
    Source,
    StaffRelation,
    Stage,
    Tag,
    TagGroup,
    TagSource,
)
from members.services import consent, disclosure, merge, privacy, relations, tags, upsert
from members.services.profile import NAME_MAX
from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer


def _described_choice(name: str, choices) -> type[serializers.ChoiceField]:
    """A ChoiceField whose values the schema lists in its description rather than as an enum:
    `channel`, `kind` and `source` each name two choice sets in this API (identity vs consent
    channels...), and drf-spectacular would otherwise give one of them a made-up enum name."""
    field = type(name, (strict.ChoiceField,), {})
    values = ", ".join(value for value, _label in choices)
    return extend_schema_field({"type": "string", "description": f"One of: {values}."})(field)


ConsentChannelField = _described_choice("ConsentChannelField", ConsentChannel.choices)
EventKindField = _described_choice("EventKindField", MemberEvent.Kind.choices)
TagSourceField = _described_choice("TagSourceField", TagSource.choices)


def full_identifiers(context: dict) -> bool:
    """Whether this answer shows full phones and e-mails (members.services.disclosure), decided once
    per answer: the context's `full_identifiers` when a view has decided it, else the rule for the
    context's actor or request user. No actor in the context sees them masked."""
    if "full_identifiers" not in context:
        actor = context.get("actor") or getattr(context.get("request"), "user", None)
        context["full_identifiers"] = actor is not None and disclosure.sees_full_identifiers(actor)
    return context["full_identifiers"]


class MemberSerializer(StrictModelSerializer):
    """Phones masked unless the caller sees them in full (or reveals one: POST /members/{id}/reveal/)."""

    home_store = strict.SlugRelatedField(slug_field="code", read_only=True)
    owner = strict.SlugRelatedField(slug_field="username", read_only=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data.get("phone") and not full_identifiers(self.context):
            data["phone"] = disclosure.mask_identifier("phone", data["phone"])
        return data

    class Meta:
        model = Member
        fields = ["id", "name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage",
                  "created_at", "updated_at"]


class IdentitySerializer(StrictModelSerializer):
    """Read, and (channel, namespace, external_id) as input; the services validate. Phone and e-mail
    ids read masked unless the caller sees them in full."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data.get("channel") in disclosure.DIRECT_CHANNELS and not full_identifiers(self.context):
            data["external_id"] = disclosure.mask_identifier(data["channel"], data["external_id"])
        return data

    class Meta:
        model = Identity
        fields = ["id", "member", "channel", "namespace", "external_id", "created_at"]
        read_only_fields = ["id", "member", "created_at"]
        extra_kwargs = {
            "namespace": {"help_text": "App id or shop id; empty for brand-wide ids (unionid, phone)."},
            "external_id": {"help_text": "Phones are normalised to E.164."},
        }


class TagGroupSerializer(StrictModelSerializer):
    class Meta:
        model = TagGroup
        fields = ["id", "name", "description", "multiple", "sort_order", "created_at"]
        read_only_fields = ["created_at"]


class TagSerializer(StrictModelSerializer):
    group_name = strict.CharField(source="group.name", read_only=True)
    is_rule = strict.BooleanField(read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "group", "group_name", "name", "is_rule", "rule", "rule_refreshed_at", "created_at"]
        read_only_fields = ["rule", "rule_refreshed_at", "created_at"]


class MemberTagSerializer(StrictModelSerializer):
    tag = strict.IntegerField(source="tag_id", read_only=True)
    name = strict.CharField(source="tag.name", read_only=True)
    group = strict.IntegerField(source="tag.group_id", read_only=True)
    group_name = strict.CharField(source="tag.group.name", read_only=True)
    added_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    source = TagSourceField(choices=TagSource.choices, read_only=True)

    class Meta:
        model = MemberTag
        fields = ["tag", "name", "group", "group_name", "source", "added_by", "added_by_label", "added_at"]


class TagIdsSerializer(serializers.Serializer):
    tags = serializers.ListField(child=strict.IntegerField(), help_text="Tag ids.")


class MemberIdsSerializer(serializers.Serializer):
    members = serializers.ListField(child=strict.IntegerField(), max_length=tags.MAX_IDS, help_text="Member ids.")


class TaggingResultSerializer(serializers.Serializer):
    tag = strict.IntegerField()
    changed = strict.IntegerField(help_text="Members tagged (or untagged) by this call.")
    replaced = strict.IntegerField(help_text="Other tags of a single-choice group removed.")


class AttributeDefinitionSerializer(StrictModelSerializer):
    class Meta:
        model = AttributeDefinition
        fields = ["id", "code", "label", "type", "choices", "sensitive", "requires_guardian", "help_text",
                  "is_active", "sort_order", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"code": {"validators": []}}  # the service names a taken code as a field error


class ConsentSerializer(StrictModelSerializer):
    channel = ConsentChannelField(choices=ConsentChannel.choices, read_only=True)

    class Meta:
        model = Consent
        fields = ["purpose", "channel", "granted", "updated_at"]


class ConsentInputSerializer(serializers.Serializer):
    purpose = strict.ChoiceField(choices=ConsentPurpose.choices)
    channel = ConsentChannelField(choices=ConsentChannel.choices, required=False,
                                      help_text="Marketing consent is per channel or 'all'; the rest 'all' only.")
    granted = strict.BooleanField(help_text="false withdraws; withdrawing on 'all' withdraws every channel.")
    source = strict.CharField(required=False, allow_blank=True, max_length=consent.SOURCE_MAX)
    evidence = strict.CharField(required=False, allow_blank=True, max_length=consent.EVIDENCE_MAX)


class ConsentRecordSerializer(StrictModelSerializer):
    recorded_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    channel = ConsentChannelField(choices=ConsentChannel.choices, read_only=True)

    class Meta:
        model = ConsentRecord
        fields = ["id", "purpose", "channel", "granted", "source", "evidence", "recorded_by", "recorded_by_label",
                  "recorded_at"]


class ServiceNoteSerializer(StrictModelSerializer):
    author = strict.SlugRelatedField(slug_field="username", read_only=True)
    store = strict.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ServiceNote
        fields = ["id", "kind", "body", "pinned", "author", "author_label", "store", "created_at"]
        read_only_fields = ["author", "author_label", "store", "created_at"]


class StaffRelationSerializer(StrictModelSerializer):
    staff = strict.SlugRelatedField(slug_field="username", read_only=True)
    staff_name = strict.CharField(source="staff.display_name", read_only=True)
    store = strict.SlugRelatedField(slug_field="code", read_only=True)
    is_active = strict.BooleanField(read_only=True)

    class Meta:
        model = StaffRelation
        fields = ["id", "staff", "staff_name", "store", "add_way", "state", "referrer", "remark", "description",
                  "is_owner", "is_active", "added_at", "staff_deleted_at", "member_deleted_at"]


class RelationInputSerializer(serializers.Serializer):
    staff = strict.CharField(help_text="Staff username.")
    add_way = strict.ChoiceField(choices=AddWay.choices, required=False)
    state = strict.CharField(required=False, allow_blank=True, max_length=relations.STATE_MAX,
                             help_text="The QR code's state.")
    referrer = strict.IntegerField(required=False, allow_null=True, help_text="Member who referred them.")
    remark = strict.CharField(required=False, allow_blank=True, max_length=relations.REMARK_MAX)
    description = strict.CharField(required=False, allow_blank=True, max_length=relations.DESCRIPTION_MAX)
    added_at = serializers.DateTimeField(required=False)
    is_owner = strict.BooleanField(required=False)


class RelationUpdateSerializer(serializers.Serializer):
    remark = strict.CharField(required=False, allow_blank=True, max_length=relations.REMARK_MAX)
    description = strict.CharField(required=False, allow_blank=True, max_length=relations.DESCRIPTION_MAX)
    deleted_by = strict.ChoiceField(choices=["staff", "member"], required=False,
                                    help_text="Record that this side deleted the other (churn).")
    deleted_at = serializers.DateTimeField(required=False)
    is_owner = strict.BooleanField(required=False, help_text="true makes this staff the owner.")


class MemberEventSerializer(StrictModelSerializer):
    actor = strict.SlugRelatedField(slug_field="username", read_only=True)
    kind = EventKindField(choices=MemberEvent.Kind.choices, read_only=True)

    class Meta:
        model = MemberEvent
        fields = ["id", "kind", "data", "actor", "actor_label", "created_at"]


class MemberDetailSerializer(MemberSerializer):
    identities = IdentitySerializer(many=True, read_only=True)
    tags = MemberTagSerializer(source="member_tags", many=True, read_only=True)
    consents = ConsentSerializer(many=True, read_only=True)
    relations = StaffRelationSerializer(many=True, read_only=True)
    notes_count = strict.IntegerField(read_only=True)

    class Meta(MemberSerializer.Meta):
        fields = [*MemberSerializer.Meta.fields, "attributes", "identities", "tags", "consents", "relations",
                  "notes_count"]


class ProfileInputSerializer(serializers.Serializer):
    """Profile fields; each is optional, unknown fields are errors. Empty or null clears a text field
    that may be empty (name, phone, home store, owner); null clears the birthday."""

    name = strict.CharField(required=False, allow_blank=True, allow_null=True, max_length=NAME_MAX)
    phone = strict.CharField(required=False, allow_blank=True, allow_null=True,
                             help_text="Any common way of writing it; stored as E.164 and as a phone identity.")
    gender = strict.ChoiceField(choices=Gender.choices, required=False)
    birthday = serializers.DateField(required=False, allow_null=True, help_text="YYYY-MM-DD; null clears it.")
    home_store = strict.CharField(required=False, allow_blank=True, allow_null=True,
                                  help_text="Store code of an open store (store accounts: their own).")
    owner = strict.CharField(required=False, allow_blank=True, allow_null=True,
                             help_text="Username of an active shopping guide of the member's store.")
    source = strict.ChoiceField(choices=Source.choices, required=False)
    stage = strict.ChoiceField(choices=Stage.choices, required=False)
    attributes = serializers.DictField(required=False, help_text="Attribute code -> value; null removes a value.")


class MemberInputSerializer(ProfileInputSerializer):
    identities = IdentitySerializer(many=True, required=False)
    tags = serializers.ListField(child=strict.IntegerField(), required=False, help_text="Tag ids to add.")


class UpsertInputSerializer(MemberInputSerializer):
    identities = IdentitySerializer(many=True, help_text="Any identity finds the member.")


class BulkUpsertInputSerializer(serializers.Serializer):
    items = UpsertInputSerializer(many=True, min_length=1, max_length=upsert.MAX_BATCH)
    atomic = strict.BooleanField(
        required=False,
        default=True,
        help_text="true (default): all or nothing, a 400 (or 409 identity_conflict) naming each refused item "
        "(details.items.<index>.<field>). false: the valid items are written and each refused one gets its own "
        "result with status invalid or conflict and its errors, as in orders/batch.",
    )


class UpsertResultSerializer(serializers.Serializer):
    index = strict.IntegerField()
    status = strict.ChoiceField(choices=["created", "updated", "conflict", "invalid"])
    id = strict.IntegerField(allow_null=True, help_text="The member (new or found).")
    member = strict.IntegerField(allow_null=True, help_text="The same as id.")
    created = strict.BooleanField()
    changed = serializers.ListField(child=strict.CharField(), help_text="Profile fields changed.")
    identities_added = serializers.ListField(child=strict.CharField())
    errors = serializers.DictField(
        required=False, help_text="For invalid and conflict items (atomic: false): messages by field."
    )


class UpsertResponseSerializer(serializers.Serializer):
    created = strict.BooleanField()
    member = MemberDetailSerializer()


class BulkUpsertResponseSerializer(serializers.Serializer):
    created = strict.IntegerField()
    updated = strict.IntegerField()
    conflict = strict.IntegerField(help_text="Items whose identities belong to other members (atomic: false).")
    invalid = strict.IntegerField(help_text="Items with invalid data (atomic: false).")
    results = UpsertResultSerializer(many=True)


class MergeInputSerializer(serializers.Serializer):
    duplicate = strict.IntegerField(help_text="The member folded into this one.")
    reason = strict.CharField(required=False, max_length=merge.REASON_MAX)


class MemberMergeSerializer(StrictModelSerializer):
    merged_by = strict.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = MemberMerge
        fields = ["id", "survivor", "merged", "reason", "merged_by", "merged_at"]


class DuplicateCandidateSerializer(serializers.Serializer):
    rule = strict.ChoiceField(choices=["same_phone", "same_unionid"])
    key = strict.CharField(help_text="The shared value (phones masked).")
    survivor = strict.IntegerField(source="survivor_id", help_text="The oldest member, proposed to keep.")
    duplicates = serializers.ListField(source="duplicate_ids", child=strict.IntegerField())


class EraseInputSerializer(serializers.Serializer):
    reason = strict.CharField(required=False, allow_blank=True, max_length=privacy.ERASE_REASON_MAX)


class MemberSearchInputSerializer(serializers.Serializer):
    """The member list's filters as a body; `q` is where a phone goes."""

    q = strict.CharField(required=False, help_text="A name (part of it), a phone in any common form or its "
                         "last digits, or the exact id of any identity.")
    store = strict.CharField(required=False, help_text="Store code.")
    owner = strict.CharField(required=False, help_text="Owner's username.")
    stage = strict.ChoiceField(choices=Stage.choices, required=False)
    tag = strict.IntegerField(required=False, help_text="Tag id.")


class RevealedIdentitySerializer(serializers.Serializer):
    id = strict.IntegerField()
    channel = strict.CharField()
    namespace = strict.CharField(allow_blank=True)
    external_id = strict.CharField()


class RevealSerializer(serializers.Serializer):
    member = strict.IntegerField(source="member_id")
    phone = strict.CharField(allow_blank=True, allow_null=True)
    identities = RevealedIdentitySerializer(many=True, help_text="Phone and e-mail identities, in full.")
