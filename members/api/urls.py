"""Routes of the member API; scrm/api/urls.py calls register(router)."""

from members.api import timeline, views

MEMBER = r"members/(?P<member_id>[0-9]+)"


def register(router) -> None:
    router.register("members", views.MemberViewSet, basename="member")
    router.register(f"{MEMBER}/identities", views.MemberIdentityViewSet, basename="member-identity")
    router.register(f"{MEMBER}/tags", views.MemberTagViewSet, basename="member-tag")
    router.register(f"{MEMBER}/notes", views.MemberNoteViewSet, basename="member-note")
    router.register(f"{MEMBER}/relations", views.MemberRelationViewSet, basename="member-relation")
    router.register(f"{MEMBER}/consents", views.MemberConsentViewSet, basename="member-consent")
    router.register(f"{MEMBER}/consent-records", views.MemberConsentRecordViewSet, basename="member-consent-record")
    router.register(f"{MEMBER}/events", views.MemberEventViewSet, basename="member-event")
    router.register(f"{MEMBER}/timeline", timeline.MemberTimelineViewSet, basename="member-timeline")
    router.register("identities", views.IdentityViewSet, basename="identity")
    router.register("tag-groups", views.TagGroupViewSet, basename="tag-group")
    router.register("tags", views.TagViewSet, basename="tag")
    router.register("attributes", views.AttributeDefinitionViewSet, basename="attribute")
