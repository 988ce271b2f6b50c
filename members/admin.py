"""Django admin for operators' raw access. Member data is read here; changes that carry rules
(identities, tags, consent, merges, erasure) go through the API and services, so the inlines and
history are read-only. A member's profile (name, store, owner, stage...) is edited through
members.services.upsert, so the admin applies the same rules and the timeline records who changed
what. The vocabularies (tag groups, tags, attribute definitions) are editable."""

from django import forms
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
    TagSource,
)
from members.services import upsert

# The profile fields the admin edits, all through update_member / create_member.
PROFILE_FIELDS = ["name", "gender", "birthday", "home_store", "owner", "source", "stage", "attributes"]


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


def _messages(errors) -> list[str]:
    """A service's error details (lists, or dicts of lists for attributes) as flat messages."""
    if isinstance(errors, dict):
        return [f"{key}: {message}" if key != "non_field_errors" else message
                for key, value in errors.items() for message in _messages(value)]
    return [str(message) for message in errors]


class MemberAdminForm(forms.ModelForm):
    """The member's profile as the services take it: `profile` holds the fields changed (all of them
    for a new member) in the service's terms, checked by the same rules before saving."""

    actor = None  # set per request by MemberAdmin.get_form

    class Meta:
        model = Member
        fields = PROFILE_FIELDS

    def clean(self):
        cleaned = super().clean()
        self.profile = self._profile(cleaned)
        member = self.instance if self.instance.pk else None
        for name, errors in upsert.profile_errors(profile=self.profile, actor=self.actor, member=member).items():
            self.add_error(name if name in self.fields else None, _messages(errors))
        return cleaned

    def _profile(self, cleaned: dict) -> dict:
        names = [n for n in PROFILE_FIELDS if n in cleaned and (not self.instance.pk or n in self.changed_data)]
        profile = {}
        for name in names:
            value = cleaned[name]
            if name == "home_store":
                value = value.code if value is not None else None
            elif name == "owner":
                value = value.get_username() if value is not None else None
            elif name == "birthday":
                value = value.isoformat() if value is not None else None
            elif name == "attributes":
                value = self._attribute_changes(value)
                if not value and self.instance.pk:
                    continue
            profile[name] = value
        return profile

    def _attribute_changes(self, new) -> dict:
        """The admin shows all values at once; the service takes changes (null removes a value)."""
        if not isinstance(new, dict):
            return new
        old = (self.initial.get("attributes") or {}) if self.instance.pk else {}
        return {code: new.get(code) for code in sorted(set(old) | set(new)) if old.get(code) != new.get(code)}


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "home_store", "owner", "stage", "source", "created_at"]
    list_filter = ["stage", "source", "home_store"]
    search_fields = ["name", "phone"]
    raw_id_fields = ["owner", "merged_into"]
    list_select_related = ["home_store", "owner"]
    readonly_fields = ["phone", "merged_into", "erased_at", "created_at", "updated_at"]
    inlines = [IdentityInline, MemberTagInline, RelationInline, ConsentInline]
    form = MemberAdminForm

    def has_delete_permission(self, request, obj=None):
        return False  # erasure keeps an anonymous row: POST /api/v1/members/{id}/erase/

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user  # a class made for this request by modelform_factory
        return form

    def save_model(self, request, obj, form, change):
        """Through the member services, not Model.save(): store, owner, stage and the other fields
        follow the same rules as everywhere else, and the timeline records the change."""
        if change:
            if form.profile:
                upsert.update_member(member=obj, profile=form.profile, actor=request.user)
        else:
            obj.pk = upsert.create_member(profile=form.profile, actor=request.user,
                                          tag_source=TagSource.MANUAL).member_id
        obj.refresh_from_db()


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
