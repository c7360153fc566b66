"""Creating a campaign: a draft with its template, lists, sender and attribute filter, checked
before it is stored. The filter's check is shared with sending and the admin's form."""

import re
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from campaigns.models import Campaign, Template
from campaigns.services.users import acting_user
from queueing import validation
from recipients.models import List

ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def validate_attribute_filter(value: object) -> dict:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(
            {"attribute_filter": 'The filter must be an object, e.g. {"plan": "pro"}.'}
        )
    for key, item in value.items():
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key) or "__" in key:
            raise ValidationError(
                {"attribute_filter": f"Attribute name {key!r}: use letters, digits, _ and - only."}
            )
        if not isinstance(item, str | int | float | bool):
            raise ValidationError(
                {
                    "attribute_filter": f"Attribute {key!r}: the value must be a string, number or true/false."
                }
            )
    return value


def campaign_create(
    *,
    name: str,
    template: Template,
    lists: Sequence[List],
    subject: str = "",
    from_email: str = "",
    reply_to: str = "",
    attribute_filter: dict | None = None,
    created_by: AbstractBaseUser | None = None,
) -> Campaign:
    campaign = Campaign(
        name=name,
        template=template,
        subject=subject,
        from_email=validation.validate_sender(from_email) if from_email else "",
        reply_to=validation.normalise_address(reply_to, "reply_to") if reply_to else "",
        attribute_filter=validate_attribute_filter(attribute_filter),
        created_by=acting_user(created_by),
    )
    campaign.full_clean()
    with transaction.atomic():
        campaign.save()
        campaign.lists.set(lists)
    return campaign
