"""Raw access for operators: orders read-only (they change through the services), the policy editable."""

from django.contrib import admin

from loyalty.orders.models import AttributionPolicy, Order, OrderLine, Refund


class LineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["sku", "name", "category", "quantity", "amount", "refunded_amount"]


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    readonly_fields = ["external_id", "line", "amount", "reason", "refunded_at", "created_at"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "channel",
        "member",
        "store",
        "total_amount",
        "refunded_amount",
        "status",
        "placed_at",
    ]
    list_filter = ["channel", "status"]
    search_fields = ["=external_id"]
    raw_id_fields = ["member", "store", "staff"]
    list_select_related = ["member", "store"]
    show_full_result_count = False
    inlines = [LineInline, RefundInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(AttributionPolicy)
class AttributionPolicyAdmin(admin.ModelAdmin):
    list_display = ["rule", "window_days", "updated_at"]
    fields = ["rule", "window_days"]

    def has_add_permission(self, request):
        return not AttributionPolicy.objects.exists()  # one row, pk 1

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk, obj.updated_by = 1, request.user
        super().save_model(request, obj, form, change)
