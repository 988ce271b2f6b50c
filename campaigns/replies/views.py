"""The SMS provider's reply callback (/sms/replies/): signed by the provider, not signed in (no
session, no CSRF token); answered at once in JSON (campaigns.replies.services holds the rules)."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from campaigns.replies import services

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def sms_reply(request):
    body = request.read(services.BODY_MAX + 1)
    if len(body) > services.BODY_MAX:
        return JsonResponse({"error": {"field": "", "message": "body too large"}}, status=413)
    try:
        received = services.receive(body=body, timestamp=request.headers.get("X-Siyu-Timestamp", ""),
                                    signature=request.headers.get("X-Siyu-Signature", ""))
    except services.Refused as refused:
        logger.warning("sms reply refused (%s): %s", refused.status, refused.reason)
        return JsonResponse({"error": {"field": refused.field, "message": refused.reason}}, status=refused.status)
    return JsonResponse({"status": received.status})
