"""The public tracked-link route (included at the site root)."""

from django.urls import path

from campaigns.links import views

urlpatterns = [
    path("l/<str:code>/<str:token>", views.follow, name="link-follow"),
]
