from django.conf import settings


def siyu(request):
    return {"brand_name": settings.SIYU_BRAND_NAME}
