"""Test sends: the campaign as it would go out, to a few addresses, for a real recipient's
data or a sample person. Marked is_test, so never counted and never deduplicated."""

import dataclasses
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from campaigns.models import Campaign
from campaigns.rendering import SampleRecipient, render_for_people_bounded, unsubscribe_list
from campaigns.selectors import campaign_content
from campaigns.services.templates import template_validate
from queueing import validation
from queueing.models import Message, Priority, Source
from queueing.services import message_create
from recipients.models import Recipient


def campaign_test_send(
    *,
    campaign: Campaign,
    to: Sequence[str],
    recipient: Recipient | None = None,
    user: AbstractBaseUser | None = None,
) -> list[Message]:
    """Send the campaign as it would go out (for `recipient`'s data, or a sample person) to
    each address, subject prefixed "[TEST]", marked is_test: never counted, never deduplicated.
    Links point nowhere real, so a tester cannot unsubscribe the person whose data was used."""
    addresses = validation.normalise_addresses(to, "to", required=True)
    content = campaign_content(campaign)
    if not content.body.strip():
        raise ValidationError({"template": "The campaign has no template content to test."})
    template_validate(content)
    if recipient is None:
        content = dataclasses.replace(content, strict=False)
    # Rendered in a bounded child process, as previews are: this runs in a web request.
    people = [recipient or SampleRecipient(email=address) for address in addresses]
    try:
        outcomes = render_for_people_bounded(content, people, campaign, unsubscribe_list(campaign))
    except Exception as exc:
        raise ValidationError({"template": f"Render error: {exc}"}) from exc
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise ValidationError({"template": f"Render error: {outcome}"})
    messages = []
    with transaction.atomic():
        for address, rendered in zip(addresses, outcomes, strict=True):
            messages.append(
                message_create(
                    to=[address],
                    subject=f"[TEST] {rendered.subject}",
                    html=rendered.html,
                    text=rendered.text,
                    headers=rendered.headers,
                    from_email=campaign.from_email or None,
                    reply_to=campaign.reply_to or None,
                    priority=Priority.TRANSACTIONAL,
                    source=Source.CAMPAIGN,
                    created_by=user,
                    campaign_id=campaign.pk,
                    recipient_id=recipient.pk if recipient else None,
                    is_test=True,
                )
            )
        audit_record(
            actor=user,
            action="campaign.test_send",
            target=campaign,
            detail={
                "to": addresses,
                "recipient": recipient.email if recipient else None,
                "messages": [m.pk for m in messages],
            },
        )
    return messages
