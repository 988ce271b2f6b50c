"""The project's URLs plus a dashboard page and an API view that raise service errors, so the one
handler of each side can be tested without a real refusal to provoke."""

from django.urls import path
from rest_framework.views import APIView

from scrm.errors import Conflict, Forbidden
from scrm.urls import urlpatterns as project_urls


def refuse(request):
    raise Forbidden("Only the brand's operators may do this.")


class RefuseApi(APIView):
    def get(self, request):
        raise Conflict("Already done.", code="already_done", details={"order": ["Refunded in full."]})


urlpatterns = [
    path("test-refusal/", refuse, name="test-refusal"),
    path("api/v1/test-refusal/", RefuseApi.as_view(), name="test-api-refusal"),
    *project_urls,
]
