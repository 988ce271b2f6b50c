from django.contrib import admin

from members.models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "home_store", "owner", "stage", "source", "created_at"]
    list_filter = ["stage", "source", "home_store"]
    search_fields = ["name", "phone"]
    raw_id_fields = ["owner"]
    list_select_related = ["home_store", "owner"]
