"""Claimed messages that go no further than preparation: no provider call was made for them.

Suppressed ones end here with their attempt given back; unsendable ones (retry window
passed, cannot be rendered) fail.
"""

from django.db import transaction
from django.db.models import F

from queueing import state_machine
from queueing.models import EventKind, Message, MessageStatus
from queueing.recording.announce import notify_campaigns
from queueing.recording.common import cleared, events

S = MessageStatus


def _claimed(token, messages: list[Message]):
    return Message.objects.filter(pk__in=[m.pk for m in messages], claim_token=token)


def suppressed(token, messages: list[Message], reasons: dict[int, str]) -> None:
    """No provider call was made, so each claim's attempt is given back."""
    with transaction.atomic():
        for message in messages:
            state_machine.move(
                _claimed(token, [message]),
                S.SUPPRESSED,
                from_=S.SENDING,
                attempts=F("attempts") - 1,
                last_error=f"suppressed: {reasons[message.pk]}",
                next_attempt_at=None,
                **cleared(),
            )
            events([message], EventKind.SUPPRESSED, reasons[message.pk])
        notify_campaigns(messages, S.SUPPRESSED)


def failed(token, messages: list[Message], code: str, errors: dict[int, str]) -> None:
    with transaction.atomic():
        for message in messages:
            state_machine.move(
                _claimed(token, [message]),
                S.FAILED,
                from_=S.SENDING,
                failure_code=code,
                last_error=errors[message.pk],
                next_attempt_at=None,
                **cleared(),
            )
            events([message], EventKind.FAILED, errors[message.pk], failure_code=code)
        notify_campaigns(messages, S.FAILED)
