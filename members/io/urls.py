from django.urls import path

from members.io import views

urlpatterns = [
    path("members/import/", views.ImportListView.as_view(), name="member-import"),
    path("members/import/template.<str:fmt>", views.import_template, name="member-import-template"),
    path("members/import/<int:pk>/", views.ImportJobView.as_view(), name="member-import-job"),
    path("members/import/<int:pk>/report.csv", views.import_report, name="member-import-report"),
    path("members/import/<int:pk>/commit/", views.commit_import, name="member-import-commit"),
    path("members/export/", views.export_members, name="member-export"),
]
