"""Dashboard routes of segments: the audience builder's endpoint, saving, the list and its actions."""

from django.urls import path

from members.segments import views

urlpatterns = [
    path("segments/", views.SegmentListView.as_view(), name="segment-list"),
    path("segments/save/", views.save_segment, name="segment-save"),
    path("segments/<int:pk>/count/", views.segment_count, name="segment-count"),
    path("members/audience/", views.audience_builder, name="audience-builder"),
    path("segments/<int:pk>/<str:action>/", views.segment_action, name="segment-action"),
]
