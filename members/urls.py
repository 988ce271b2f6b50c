from django.urls import path

from members import views

urlpatterns = [
    path("members/", views.MemberListView.as_view(), name="member-list"),
    path("m/members/", views.MobileMemberListView.as_view(), name="mobile-member-list"),
]
