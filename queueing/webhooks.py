"""POST /webhooks/resend: verify, store, answer. Everything else happens in the workers.

CSRF-exempt (the caller is Resend; its credential is the Svix signature) and exempt from the
HTTPS redirect (settings.SECURE_REDIRECT_EXEMPT) like the API. A refusal stores nothing and
writes one log line.
"""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from queueing.provider_events.store import webhook_event_store
from queueing.resend.webhooks import HEADERS, WebhookRefused, verify_webhook

log = logging.getLogger(__name__)

# The two answers to an accepted webhook, encoded once.
STORED, NOT_STORED = b'{"stored": true}', b'{"stored": false}'


@csrf_exempt
@require_POST
def resend_webhook(request: HttpRequest) -> HttpResponse:
    limit = settings.RESEND_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body = b"" if declared > limit else request.read(limit + 1)
    if declared > limit or len(body) > limit:
        log.warning("Resend webhook refused: body over %d bytes (RESEND_WEBHOOK_MAX_BYTES)", limit)
        return JsonResponse({"error": f"body over {limit} bytes"}, status=413)
    try:
        verified = verify_webhook(body, _svix_headers(request), settings.RESEND_WEBHOOK_SECRETS)
    except WebhookRefused as refused:
        log.warning("Resend webhook refused (%d): %s", refused.status, refused.reason)
        return JsonResponse({"error": refused.reason}, status=refused.status)
    stored = webhook_event_store(svix_id=verified.svix_id, event=verified.event, text=verified.text)
    return HttpResponse(STORED if stored else NOT_STORED, content_type="application/json")


def _svix_headers(request: HttpRequest) -> dict[str, str]:
    """The three headers verify_webhook reads, from META: `request.headers` would first
    build a map of every header."""
    meta = request.META
    return {name: meta.get("HTTP_" + name.upper().replace("-", "_"), "") for name in HEADERS}
