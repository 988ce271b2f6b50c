"""Dashboard and phone routes of the KOC programme (flat names, included at the site root)."""

from koc import views, views_mentor, views_repost

urlpatterns = views.urlpatterns + views_repost.urlpatterns + views_mentor.urlpatterns
