"""Raw access for operators to the appointments catalogue: skills, staff skills, opening and working
hours, time off. Services and bookings change through their services (the dashboard and the API)."""

from django.contrib import admin

from appointments.models import OpeningHours, Skill, StaffSkill, TimeOff, WorkingHours


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(StaffSkill)
class StaffSkillAdmin(admin.ModelAdmin):
    list_display = ["staff", "skill"]
    list_select_related = ["staff", "skill"]
    raw_id_fields = ["staff"]


@admin.register(OpeningHours)
class OpeningHoursAdmin(admin.ModelAdmin):
    list_display = ["store", "weekday", "opens", "closes"]
    list_filter = ["weekday"]
    raw_id_fields = ["store"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["staff", "weekday", "starts", "ends"]
    list_filter = ["weekday"]
    raw_id_fields = ["staff"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["store", "staff", "starts_at", "ends_at", "reason"]
    raw_id_fields = ["store", "staff"]
