from django.urls import path

from members import timeline_views, views

urlpatterns = [
    path("members/", views.MemberListView.as_view(), name="member-list"),
    path("members/bulk/", views.bulk_action, name="member-bulk"),
    path("members/<int:pk>/", views.MemberDetailView.as_view(), name="member-detail"),
    path("members/<int:pk>/edit/", views.profile_edit, name="member-edit"),
    path("members/<int:pk>/tags/toggle/", views.toggle_tag, name="member-toggle-tag"),
    path("members/<int:pk>/notes/", views.add_note, name="member-add-note"),
    path("members/<int:pk>/phone/", views.reveal_phone, name="member-reveal"),
    path("members/<int:pk>/timeline/", timeline_views.MemberTimelineView.as_view(), name="member-timeline"),
    path("tags/", views.tag_list, name="tag-list"),
    path("tags/groups/new/", views.tag_group_create, name="tag-group-create"),
    path("tags/groups/<int:pk>/", views.tag_group_edit, name="tag-group-edit"),
    path("tags/new/", views.tag_create, name="tag-create"),
    path("tags/<int:pk>/", views.tag_edit, name="tag-edit"),
    path("m/members/", views.MobileMemberListView.as_view(), name="mobile-member-list"),
    path("m/members/<int:pk>/", views.MobileMemberDetailView.as_view(), name="mobile-member-detail"),
]
