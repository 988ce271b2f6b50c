from django.conf import settings
from django.utils.functional import SimpleLazyObject

from scrm import navigation


def siyu(request):
    context = {"brand_name": settings.SIYU_BRAND_NAME}
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        sidebar = SimpleLazyObject(lambda: navigation.sidebar(request))
        context["sidebar"] = sidebar
        context["back_link"] = SimpleLazyObject(lambda: navigation.back_link(request, sidebar))
    return context
