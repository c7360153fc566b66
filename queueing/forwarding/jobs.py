"""The RQ entry point: nothing in, a service call out."""

from queueing.forwarding.enqueue import forwarding_started
from queueing.forwarding.sending import deliveries_send


def send_webhook_deliveries() -> dict:
    forwarding_started()
    return deliveries_send()
