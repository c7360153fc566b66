"""Template writes: validate and create. Nothing broken is ever saved: a template must use
only the allowed tags and filters, render for a sample person within the render budget, and
its MJML must compile before it is stored."""

import dataclasses

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from campaigns.bounded_render import render_bounded
from campaigns.exceptions import RenderBudgetExceeded
from campaigns.models import BodyFormat, Template
from campaigns.rendering import SampleRecipient, recipient_context
from campaigns.selectors import template_content
from campaigns.services.users import acting_user
from campaigns.templating import Content, syntax_errors


def template_validate(content: Content) -> None:
    """Raise ValidationError (by field) for empty parts, template syntax errors, refused tags
    and filters, and a sample render that fails, goes over the render budget or gives MJML
    that does not compile; nothing broken is ever saved. The sample render runs in a
    bounded child process (campaigns.bounded_render), never in this one."""
    errors = syntax_errors(content)
    if errors:
        raise ValidationError(errors)
    sample = recipient_context(SampleRecipient(), None, None)[0]
    lenient = dataclasses.replace(content, strict=False)
    try:
        (outcome,) = render_bounded(lenient, [sample])
    except Exception as exc:  # over the budget, or the parts do not join
        outcome = exc
    if isinstance(outcome, RenderBudgetExceeded):
        raise ValidationError({"body": f"For a sample recipient the template is {outcome}."})
    if isinstance(outcome, ValueError):
        raise ValidationError({"body": f"MJML error: {outcome}"})
    if isinstance(outcome, Exception):  # a filter or tag failing on the sample data
        raise ValidationError(
            {"body": f"The template fails to render for a sample recipient: {outcome}"}
        )


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
