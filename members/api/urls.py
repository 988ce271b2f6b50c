from members.api.views import MemberViewSet


def register(router) -> None:
    router.register("members", MemberViewSet, basename="member")
