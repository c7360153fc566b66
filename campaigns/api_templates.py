"""Named templates for the HTTP API's `template: {"id", "variables"}` (registered in
campaigns/apps.py as queueing's template renderer; queueing never imports campaigns).

The id is a template's slug, or its numeric id. The variables are the template's context,
with `postal_address` from the settings; a strict template refuses a missing variable.
"""

from collections.abc import Mapping

from django.conf import settings
from django.template import TemplateSyntaxError

from campaigns.exceptions import MissingVariable, RenderBudgetExceeded
from campaigns.models import Template
from campaigns.templating import Content, compile_content, render_content
from queueing.hooks import Rendered, RenderFailed


def render_named_template(
    template_id: str, variables: Mapping[str, object]
) -> Rendered | RenderFailed | None:
    numeric = template_id.isascii() and template_id.isdigit() and len(template_id) <= 18
    lookup = {"pk": int(template_id)} if numeric else {"slug": template_id}
    template = Template.objects.filter(**lookup).first()
    if template is None:
        return None
    content = Content(
        subject=template.subject,
        body_format=template.body_format,
        body=template.body,
        text_body=template.text_body,
        strict=template.strict_variables,
    )
    context = {**variables, "postal_address": settings.MAILHUB_POSTAL_ADDRESS}
    try:
        # Under one message's render budget (time, size, markup depth), as in the worker.
        rendered = render_content(compile_content(content), context)
    except (MissingVariable, RenderBudgetExceeded, TemplateSyntaxError, ValueError) as exc:
        return RenderFailed(f"Template `{template_id}` could not be rendered: {exc}")
    except BaseException as exc:
        # mjml-python reports a panic of its Rust code as a BaseException.
        if type(exc).__name__ != "PanicException":
            raise
        return RenderFailed(f"Template `{template_id}` could not be compiled from MJML: {exc}")
    return Rendered(subject=rendered.subject, html=rendered.html, text=rendered.text)
