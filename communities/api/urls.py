"""Routes of the communities API (/api/v1/communities/, /api/v1/events/ with sign-ups and check-ins
beneath); scrm/api/urls.py calls register(router)."""

from communities.api import views


def register(router) -> None:
    router.register("communities", views.CommunityViewSet, basename="community")
    router.register(r"communities/(?P<community_id>[0-9]+)/members", views.CommunityMemberViewSet,
                    basename="community-member")
    router.register(r"communities/(?P<community_id>[0-9]+)/invitations", views.CommunityInvitationViewSet,
                    basename="community-invitation")
    router.register("events", views.EventViewSet, basename="event")
    router.register(r"events/(?P<event_id>[0-9]+)/feedback", views.EventFeedbackViewSet, basename="event-feedback")
    router.register(r"events/(?P<event_id>[0-9]+)/signups", views.EventSignUpViewSet, basename="event-signup")
    router.register(r"events/(?P<event_id>[0-9]+)/checkins", views.EventCheckInViewSet, basename="event-checkin")
