"""The reconciler's step for forwarding: a job for deliveries that are due (retries whose
time has come, and any whose signal was lost with Redis)."""

from django.utils import timezone

from queueing.forwarding.enqueue import request_forwarding
from queueing.forwarding.models import DeliveryStatus, WebhookDelivery


def webhook_deliveries_reconcile() -> dict[str, int]:
    due = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).exists()
    return {"webhook_jobs_requested": int(due and request_forwarding())}
