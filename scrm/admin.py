"""Django admin for operators' raw access to the organisation. What carries a rule goes through the
services or is read-only: staff accounts are created and their passwords reset from the dashboard's
Staff page or the `create_staff` / `reset_password` commands (audited), never deleted (deactivate
instead); a revoked API key is read-only and keys are revoked, not deleted; the audit log is read-only
(and append-only in the database, see migration 0003)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from scrm.auth import client_ip
from scrm.models import ApiKey, AuditLog, Region, Store, User
from scrm.services import audit


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region", "city", "is_active"]
    list_filter = ["region", "is_active"]
    search_fields = ["code", "name", "city"]


# Changes to these fields of an account are written to the audit log (the values of the flags only).
AUDITED_USER_FIELDS = (
    "role",
    "store",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
    "username",
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "store", "is_active", "last_login"]
    list_filter = ["role", "store", "is_active"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("Siyu"), {"fields": ("role", "store", "display_name", "phone")}),)
    readonly_fields = ["last_login", "date_joined"]

    def has_add_permission(self, request):
        return False  # the Staff page or `manage.py create_staff`: role rules, password rules, audit

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: members keep their owner, the audit log its actor

    def user_change_password(self, request, id, form_url=""):
        raise PermissionDenied  # reset from the Staff page or `manage.py reset_password` (audited)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = [name for name in form.changed_data if name in AUDITED_USER_FIELDS]
        if change and changed:
            detail = {
                "fields": changed,
                **{
                    name: form.cleaned_data[name]
                    for name in changed
                    if name in ("role", "is_active", "is_staff", "is_superuser")
                },
            }
            audit.record(
                actor=request.user,
                action="staff.changed",
                obj=obj,
                store_id=obj.store_id,
                ip=client_ip(request),
                detail={**detail, "via": "admin"},
            )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "store", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]

    def has_add_permission(self, request):
        return False  # keys are issued by `manage.py create_api_key`, which shows the key once

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit log keeps naming the key

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.revoked_at is not None:
            return False  # a revoked key is history: nothing of it changes
        return super().has_change_permission(request, obj)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "user", "api_key", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["action", "object_type", "object_id"]
    list_select_related = ["user", "api_key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
