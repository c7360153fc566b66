"""The floor of the API benchmark: the least a Django view can do for `POST /api/emails`.

It checks the key (one indexed lookup by digest, as mailhub does) and inserts one Message
row, with no validation, no events, no Redis and no middleware. Served by gunicorn exactly as
mailhub is (benchmarks/api_send.py), with DJANGO_SETTINGS_MODULE=api_floor_settings.
"""

import json
import uuid

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from queueing.api_keys import digest_of
from queueing.models import ApiKey, Message, MessageStatus


@csrf_exempt
def send(request: HttpRequest) -> JsonResponse:
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    api_key = (
        ApiKey.objects.filter(digest=digest_of(token.strip()), revoked_at__isnull=True)
        .only("pk")
        .first()
    )
    if api_key is None:
        return JsonResponse({"statusCode": 403, "name": "invalid_api_key"}, status=403)
    email = json.loads(request.body)
    message_uuid = uuid.uuid4()
    Message.objects.create(
        uuid=message_uuid,
        idempotency_key=f"floor-{message_uuid}",
        from_email=email["from"],
        to=email["to"],
        subject=email["subject"],
        html=email.get("html", ""),
        status=MessageStatus.QUEUED,
        queued_at=timezone.now(),
        api_key=api_key,
    )
    return JsonResponse({"id": str(message_uuid)})


urlpatterns = [path("api/emails", send)]
