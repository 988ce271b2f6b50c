"""API: images for campaign attachments. POST one (multipart/form-data, `file`) to get the id a
campaign's image or mini-program attachment names; list and read them (a store's images reach its
store's accounts, brand-wide ones everyone); GET its content (what a webhook receiver fetches)."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import parsers, renderers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.api.serializers import CampaignImageInputSerializer, CampaignImageSerializer
from campaigns.models import CampaignImage
from campaigns.services import attachments as service
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet
from scrm.errors import InvalidInput
from scrm.models import Store


class ImageRenderer(renderers.BaseRenderer):
    """Lets a client asking for an image type be answered the file (the view returns it as is)."""

    media_type = "image/*"
    format = "image"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


@extend_schema_view(
    list=extend_schema(summary="Images uploaded for campaign attachments, newest first"),
    retrieve=extend_schema(summary="One image for campaign attachments"),
    create=extend_schema(
        summary="Upload an image for campaign attachments (JPG or PNG, at most 10 MB)",
        description=("multipart/form-data with `file` and, for an operator, an optional `store` code. What the "
                     "file is comes from its bytes: anything but a JPG or PNG, an empty file or one over 10 MB "
                     "(WeCom's limit for images) is refused (400 naming `file`). Answers the image's id, which a "
                     "campaign's attachments name."),
        request={"multipart/form-data": CampaignImageInputSerializer},
        responses={201: CampaignImageSerializer, **ERRORS},
    ),
)
class CampaignImageViewSet(ScopedCreateListRetrieveViewSet):
    queryset = CampaignImage.objects.select_related("store").order_by("-id")
    serializer_class = CampaignImageSerializer
    scope_resource = "campaigns"
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    def create(self, request, *args, **kwargs):
        known = set(CampaignImageInputSerializer().fields)
        if unknown := sorted(key for key in request.data if key not in known):
            message = _("Unknown field; known: %(known)s.") % {"known": ", ".join(sorted(known))}
            raise InvalidInput(details={key: [message] for key in unknown})
        body = CampaignImageInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        store = None
        if code := body.validated_data.get("store"):
            store = Store.objects.filter(code=code).first()
            if store is None:
                raise InvalidInput(details={"store": ["No such store."]})
        image = service.upload_image(actor=request.user, file=body.validated_data["file"], store=store)
        return Response(CampaignImageSerializer(image).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="The image file itself", responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY),
                                                               **ERRORS})
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, ImageRenderer])
    def content(self, request, pk=None):
        image = self.get_object()
        try:
            handle = image.file.open("rb")
        except OSError:
            raise Http404 from None
        return FileResponse(handle, content_type=image.content_type, filename=image.name)
