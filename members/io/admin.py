"""Import jobs in the Django admin, read-only: jobs are created by upload and run by the service."""

from django.contrib import admin

from members.io.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "mode", "status", "store", "created_by", "rows_total", "rows_invalid",
                    "created_count", "updated_count", "created_at"]
    list_filter = ["status", "mode", "store"]
    search_fields = ["original_name", "created_by__username", "created_by_label"]
    list_select_related = ["store", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
