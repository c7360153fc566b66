"""Resend as mailhub's email provider (`queueing.provider.Provider`).

Builds each request body from the stored rows (`payload`) and hands it to the client; a batch's
bodies follow the members' frozen order and leave attachments out, as Resend's batch endpoint
takes none, so every attempt sends the same bytes.
"""

from queueing.models import Message
from queueing.outcomes import BatchOutcome, SendOutcome
from queueing.resend import client, limits
from queueing.resend.payload import build_payload


class ResendProvider:
    name = "Resend"
    max_batch = limits.MAX_BATCH_SIZE
    batch_allows_attachments = limits.BATCH_ALLOWS_ATTACHMENTS

    def send_one(self, message: Message) -> SendOutcome:
        return client.send_email(build_payload(message), idempotency_key=message.idempotency_key)

    def send_batch(self, messages: list[Message], *, idempotency_key: str) -> BatchOutcome:
        bodies = [
            build_payload(m, include_attachments=self.batch_allows_attachments) for m in messages
        ]
        return client.send_batch(bodies, idempotency_key=idempotency_key)
