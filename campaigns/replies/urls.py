"""The SMS provider's reply callback (included at the site root)."""

from django.urls import path

from campaigns.replies import views

urlpatterns = [
    path("sms/replies/", views.sms_reply, name="sms-reply"),
]
