"""Django admin for operators' raw access. Member data is read here; changes that carry rules
(identities, tags, consent, merges, erasure) go through the API and services, so the inlines and
history are read-only. The vocabularies (tag groups, tags, attribute definitions) are editable."""

from django.contrib import admin

from members.models import (
    AttributeDefinition,
    Consent,
    ConsentRecord,
    Identity,
    Member,
    MemberEvent,
    MemberMerge,
    MemberTag,
    StaffRelation,
    Tag,
    TagGroup,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class IdentityInline(ReadOnlyInline):
    model = Identity
    fields = ["channel", "namespace", "external_id", "created_at"]
    readonly_fields = fields


class MemberTagInline(ReadOnlyInline):
    model = MemberTag
    fields = ["tag", "source", "added_by", "added_by_label", "added_at"]
    readonly_fields = fields


class RelationInline(ReadOnlyInline):
    model = StaffRelation
    fk_name = "member"
    fields = ["staff", "store", "add_way", "state", "remark", "is_owner", "added_at", "staff_deleted_at",
              "member_deleted_at"]
    readonly_fields = fields


class ConsentInline(ReadOnlyInline):
    model = Consent
    fields = ["purpose", "channel", "granted", "updated_at"]
    readonly_fields = fields


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "home_store", "owner", "stage", "source", "created_at"]
    list_filter = ["stage", "source", "home_store"]
    search_fields = ["name", "phone"]
    raw_id_fields = ["owner", "merged_into"]
    list_select_related = ["home_store", "owner"]
    readonly_fields = ["phone", "merged_into", "erased_at", "created_at", "updated_at"]
    inlines = [IdentityInline, MemberTagInline, RelationInline, ConsentInline]

    def has_delete_permission(self, request, obj=None):
        return False  # erasure keeps an anonymous row: POST /api/v1/members/{id}/erase/


@admin.register(TagGroup)
class TagGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "multiple", "sort_order"]
    search_fields = ["name"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "is_rule", "rule_refreshed_at"]
    list_filter = ["group"]
    search_fields = ["name"]
    list_select_related = ["group"]
    readonly_fields = ["rule", "rule_refreshed_at", "created_by"]


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "type", "sensitive", "requires_guardian", "is_active", "sort_order"]
    list_filter = ["type", "sensitive", "requires_guardian", "is_active"]
    search_fields = ["code", "label"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MemberEvent)
class MemberEventAdmin(ReadOnlyAdmin):
    list_display = ["member", "kind", "actor", "actor_label", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["member"]
    list_select_related = ["member", "actor"]


@admin.register(MemberMerge)
class MemberMergeAdmin(ReadOnlyAdmin):
    list_display = ["survivor", "merged", "reason", "merged_by", "merged_at"]
    list_filter = ["reason"]
    list_select_related = ["survivor", "merged", "merged_by"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["member", "purpose", "channel", "granted", "source", "recorded_by", "recorded_at"]
    list_filter = ["purpose", "channel", "granted"]
    list_select_related = ["member", "recorded_by"]
