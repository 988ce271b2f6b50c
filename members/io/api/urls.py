from members.io.api.views import ExportViewSet, ImportJobViewSet


def register(router) -> None:
    router.register("imports", ImportJobViewSet, basename="import")
    router.register("exports", ExportViewSet, basename="export")
