from django.urls import path

from members import timeline_views, views

urlpatterns = [
    path("members/", views.MemberListView.as_view(), name="member-list"),
    path("members/<int:pk>/", views.MemberDetailView.as_view(), name="member-detail"),
    path("members/<int:pk>/tags/toggle/", views.toggle_tag, name="member-toggle-tag"),
    path("members/<int:pk>/notes/", views.add_note, name="member-add-note"),
    path("members/<int:pk>/timeline/", timeline_views.MemberTimelineView.as_view(), name="member-timeline"),
    path("m/members/", views.MobileMemberListView.as_view(), name="mobile-member-list"),
    path("m/members/<int:pk>/", views.MobileMemberDetailView.as_view(), name="mobile-member-detail"),
]
