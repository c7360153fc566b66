"""Template writes: validate and create. Nothing broken is ever saved: a template must render
for a sample person and its MJML must compile before it is stored."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from campaigns.models import BodyFormat, Template
from campaigns.rendering import SampleRecipient, recipient_context
from campaigns.selectors import template_content
from campaigns.services.users import acting_user
from campaigns.templating import Content, validate_content


def template_validate(content: Content) -> None:
    """Raise ValidationError (by field) for empty parts, template syntax errors and MJML that
    does not compile; nothing broken is ever saved."""
    errors = validate_content(content, recipient_context(SampleRecipient(), None, None)[0])
    if errors:
        raise ValidationError(errors)


def template_create(
    *,
    name: str,
    slug: str,
    subject: str,
    body: str,
    body_format: str = BodyFormat.MJML,
    text_body: str = "",
    strict_variables: bool = True,
    created_by: AbstractBaseUser | None = None,
) -> Template:
    template = Template(
        name=name,
        slug=slug,
        subject=subject,
        body=body,
        body_format=body_format,
        text_body=text_body,
        strict_variables=strict_variables,
        created_by=acting_user(created_by),
    )
    template.full_clean()
    template_validate(template_content(template))
    template.save()
    return template
