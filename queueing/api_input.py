"""A send request, once Resend's rules passed (queueing.api_schemas), as message_create's
fields; and mailhub's refusals in Resend's words.

What Resend would take but mailhub cannot honour is refused here with a 422 that says so:
attachments by `path` (mailhub does not fetch URLs), `topic_id` (mailhub has no topics), an
unknown template. A `from` outside the key's allowed sender domains is a 403
`validation_error`, as Resend answers an unverified domain.
"""

import base64
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from queueing import hooks
from queueing.api_errors import ApiRefused
from queueing.api_schemas import SendEmail, _Email
from queueing.hooks import RenderFailed
from queueing.models import ApiKey, Priority, Source
from queueing.resend import errors
from queueing.resend.rules import address_of
from queueing.scheduled_at import ScheduleError, parse_scheduled_at
from queueing.services import AttachmentInput

# message_create's field → the API's field, for messages.
API_FIELD = {"from_email": "from"}


def message_fields(email: _Email, api_key: ApiKey, now: datetime) -> dict[str, Any]:
    """message_create's keyword arguments for `email`; raises ApiRefused."""
    _check_sender(email.from_, api_key)
    if email.topic_id is not None:
        raise ApiRefused(errors.validation_error("`topic_id` is not supported by mailhub."))
    fields: dict[str, Any] = {
        "from_email": email.from_,
        "to": email.to,
        "cc": email.cc,
        "bcc": email.bcc,
        "reply_to": email.reply_to,
        "subject": email.subject,
        "html": email.html or "",
        "text": email.text or "",
        "headers": email.headers,
        "tags": [{"name": t.name, "value": t.value or ""} for t in email.tags or []],
        "priority": email.priority or Priority.TRANSACTIONAL,
        "source": Source.API,
        "api_key": api_key,
    }
    if email.template is not None:
        fields.update(_template(email.template.id, email.template.variables or {}))
    if isinstance(email, SendEmail):
        if email.scheduled_at is not None:
            fields["scheduled_at"] = _scheduled_at(email.scheduled_at, now)
        fields["attachments"] = [_attachment(i, a) for i, a in enumerate(email.attachments or [])]
    return fields


def scheduled_at_of(text: str, now: datetime) -> datetime:
    return _scheduled_at(text, now)


def refusal_of(exc: ValidationError, *, prefix: str = "") -> ApiRefused:
    """mailhub's own ValidationError (queueing.validation, via the services) as Resend's 422,
    naming the API's field: `Invalid `to` field. …`."""
    if not hasattr(exc, "error_dict"):
        return ApiRefused(errors.validation_error(prefix + " ".join(exc.messages)))
    field, problems = next(iter(exc.error_dict.items()))
    # A batch's all-or-nothing error is keyed "emails[3].to".
    head, dot, name = field.rpartition(".")
    where = f"{API_FIELD.get(name, name)}" if dot else API_FIELD.get(field, field)
    if dot:
        prefix = f"{prefix}Email at index {head.removeprefix('emails[').rstrip(']')}: "
    message = " ".join(m for e in problems for m in e.messages)
    return ApiRefused(errors.validation_error(f"{prefix}Invalid `{where}` field. {message}"))


def _check_sender(sender: str, api_key: ApiKey) -> None:
    allowed = api_key.allowed_from_domains
    if not allowed:
        return
    domain = (address_of(sender) or "").rpartition("@")[2].lower()
    if domain not in allowed:
        raise ApiRefused(
            errors.validation_error(
                f"The {domain} domain is not allowed for this API key; use one of: "
                f"{', '.join(allowed)}.",
                status=403,
            )
        )


def _scheduled_at(text: str, now: datetime) -> datetime:
    try:
        return parse_scheduled_at(text, now)
    except ScheduleError as exc:
        raise ApiRefused(errors.validation_error(f"Invalid `scheduled_at` field. {exc}")) from None


def _template(template_id: str, variables: dict[str, Any]) -> dict[str, str]:
    render = hooks.template_renderer()
    result = render(template_id, variables) if render else None
    if result is None:
        raise ApiRefused(
            errors.validation_error(
                f"Invalid `template` field. Template `{template_id}` not found."
            )
        )
    if isinstance(result, RenderFailed):
        raise ApiRefused(errors.validation_error(f"Invalid `template` field. {result.reason}"))
    return {"html": result.html, "text": result.text}


def _attachment(index: int, attachment: Any) -> AttachmentInput:
    if attachment.path is not None:
        raise ApiRefused(
            errors.validation_error(
                f"Invalid `attachments[{index}].path`. mailhub does not fetch attachments by "
                "URL: send the file as `content` (base64)."
            )
        )
    content = attachment.content
    data = bytes(content) if isinstance(content, list) else base64.b64decode(content)
    return AttachmentInput(
        filename=attachment.filename or "", content=data, content_type=attachment.content_type or ""
    )
