"""Operators' raw access to staff tasks and the brand's task settings (repurchase cycles, the policy)."""

from __future__ import annotations

from django.contrib import admin

from journeys.models import RepurchaseCycle, Task, TaskPolicy


@admin.register(RepurchaseCycle)
class RepurchaseCycleAdmin(admin.ModelAdmin):
    list_display = ("category", "days")
    search_fields = ("category",)


@admin.register(TaskPolicy)
class TaskPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "daily_cap", "dormant_days", "expire_after_days", "orders_window_days")

    def has_add_permission(self, request):
        return not TaskPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Read-only: tasks change through their services (done, skip, reassign), never by hand here."""

    list_display = ("id", "kind", "store", "assignee", "state", "due_at", "source")
    list_filter = ("state", "kind", "source")
    raw_id_fields = ("member", "assignee", "done_by", "created_by")
    list_select_related = ("store", "assignee")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
