"""Compiling template content: Django template syntax inside MJML or HTML.

Per recipient the Django template is rendered FIRST and the result is compiled from MJML to
HTML after, so `{% if %}` and `{% for %}` work anywhere in the MJML (mjml-python compiles a
small document in tens of microseconds; see docs/CAMPAIGNS.md for measured costs). The
Django templates are parsed once per campaign (`compile_content`), never per recipient.
"""

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.template import Template as DjangoTemplate
from mjml import mjml2html

from campaigns.exceptions import MissingVariable, RenderBudgetExceeded
from campaigns.models import BodyFormat
from campaigns.template_language import (
    CampaignEngine,
    RefusedInTemplate,
    RenderBudget,
    render_budget,
)
from campaigns.text import html_to_text

UNSUBSCRIBE_VARIABLE = re.compile(r"{{\s*unsubscribe_url\s*(\||}})")
POSTAL_VARIABLE = re.compile(r"{{\s*postal_address\s*(\||}})")

# Deeper than any real email (a newsletter nests a dozen levels), far below the depth at which
# the MJML compiler's recursive parser overflows its stack (about 2,000 sections, 20,000 divs).
MAX_MARKUP_DEPTH = 250
_TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)[^>]*?(/?)>")
VOID_ELEMENTS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)

MJML_FOOTER = (
    '<mj-section><mj-column><mj-text align="center" font-size="11px" color="#777777">'
    "{{ postal_address }}</mj-text></mj-column></mj-section>"
)
HTML_FOOTER = '<p style="font-size:11px;color:#777777;text-align:center">{{ postal_address }}</p>'


class _StrictInvalid(str):
    """Django's `string_if_invalid` hook: formatting it with the variable raises.

    Only {{ }} output is strict; {% if %} and {% for %} resolve missing values to None, so
    `{% if recipient.attributes.plan %}` is the way to test for an optional attribute."""

    def __mod__(self, variable: object) -> str:
        raise MissingVariable(f"{{{{ {variable} }}}} has no value for this recipient")


class Attributes(dict):
    """A recipient's attributes as templates see them: a dict whose dir() is empty.

    When a key is missing (`{% if recipient.attributes.plan %}` for someone without a plan),
    Django's lookup calls dir() on the dict to tell a failing @property from a missing name;
    a plain dict's dir() is slow (benchmarks/campaign_render.py). A dict has no properties, so an
    empty dir() gives the same answer."""

    __slots__ = ()

    def __dir__(self) -> list[str]:
        return []


@lru_cache(maxsize=4)
def engine(*, autoescape: bool, strict: bool) -> Engine:
    # Only the allowed tags and filters, no loaders and no libraries (template_language).
    return CampaignEngine(
        autoescape=autoescape, string_if_invalid=_StrictInvalid("%s") if strict else ""
    )


@dataclass(frozen=True)
class Content:
    """What a template (or a campaign's frozen copy of it) consists of."""

    subject: str
    body_format: str
    body: str
    text_body: str = ""
    strict: bool = True


@dataclass(frozen=True)
class CompiledContent:
    subject: DjangoTemplate
    body: DjangoTemplate
    text: DjangoTemplate
    body_format: str
    # The three parts as one template (body, then text and subject with autoescaping off)
    # between PART_MARKERs: one render per recipient instead of three. None: render apart.
    whole: DjangoTemplate | None


# Random per process, so recipient data cannot contain it.
PART_MARKER = f"\x00mailhub-part-{uuid.uuid4().hex}\x00"


def has_unsubscribe_link(content: Content) -> bool:
    return bool(UNSUBSCRIBE_VARIABLE.search(content.body))


def _with_footer(content: Content) -> tuple[str, str]:
    """Body and text sources with the postal address appended unless the template places it."""
    body = content.body
    if not POSTAL_VARIABLE.search(body):
        if content.body_format == BodyFormat.MJML and "</mj-body>" in body:
            head, _, tail = body.rpartition("</mj-body>")
            body = f"{head}{MJML_FOOTER}</mj-body>{tail}"
        elif "</body>" in body:
            head, _, tail = body.rpartition("</body>")
            body = f"{head}{HTML_FOOTER}</body>{tail}"
        else:
            body = body + HTML_FOOTER
    # A derived text version is taken from the template source: tags survive as text and are
    # rendered per recipient, so the HTML is never parsed per recipient.
    text = content.text_body or html_to_text(body)
    if not POSTAL_VARIABLE.search(text):
        text = f"{text}\n\n{{{{ postal_address }}}}"
    return body, text


def compile_content(content: Content) -> CompiledContent:
    """Parse once; raises TemplateSyntaxError naming the part that is wrong."""
    body, text = _with_footer(content)
    plain = engine(autoescape=False, strict=content.strict)
    html = engine(autoescape=True, strict=content.strict)
    parts = {}
    for name, source, eng in (
        ("subject", content.subject, plain),
        ("body", body, html),
        ("text", text, plain),
    ):
        try:
            parts[name] = eng.from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateSyntaxError(f"{name}: {exc}") from exc
    return CompiledContent(
        body_format=content.body_format, whole=_joined(html, body, text, content.subject), **parts
    )


# A tag that sets a variable for the rest of the template ({% firstof … as x %}, {% cycle …
# as x %}, {% now … as x %}): joined, its variable would reach the
# parts after it.
SETS_VARIABLE = re.compile(r"{%[^%]*\sas\s")


def _joined(html: Engine, body: str, text: str, subject: str) -> DjangoTemplate | None:
    """The three parts as one template, or None where they must render apart: a part sets a
    variable (see SETS_VARIABLE), or they cannot be joined. Each part was parsed
    alone before this, so no tag opens in one part and closes in another."""
    if any(SETS_VARIABLE.search(part) for part in (body, text, subject)):
        return None
    try:
        return html.from_string(
            f"{body}{PART_MARKER}{{% autoescape off %}}{text}{PART_MARKER}{subject}"
            "{% endautoescape %}"
        )
    except TemplateSyntaxError:
        return None


@dataclass(frozen=True)
class RenderedContent:
    subject: str
    html: str
    text: str


def message_budget(*, not_after: float | None = None) -> RenderBudget:
    """One message's budget from the settings, ending no later than `not_after` (a group's
    deadline, time.monotonic())."""
    return RenderBudget.start(
        settings.MAILHUB_RENDER_TIME_LIMIT, settings.MAILHUB_RENDER_MAX_CHARS, not_after=not_after
    )


def render_content(
    compiled: CompiledContent, context: dict, budget: RenderBudget | None = None
) -> RenderedContent:
    """Render for one recipient under `budget` (default: one message's, from the settings).
    Raises MissingVariable, RenderBudgetExceeded, or ValueError for invalid MJML."""
    budget = budget or message_budget()
    with render_budget(budget):
        body, text, subject = _render_parts(compiled, context)
        budget.check(len(body) + len(text) + len(subject))
    if compiled.body_format == BodyFormat.MJML:
        check_markup_depth(body)
        html = mjml2html(body)
    else:
        html = body
    budget.check(len(html))  # MJML adds markup: the email itself must fit too
    return RenderedContent(subject=" ".join(subject.split()), html=html, text=text.strip())


def markup_depth(markup: str) -> int:
    """How deeply the elements of `markup` nest, as the MJML compiler's parser sees it (an
    element left open nests what follows; void elements and `/>` do not)."""
    depth = deepest = 0
    for closing, name, self_closing in _TAG.findall(markup):
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closing and name.lower() not in VOID_ELEMENTS:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def check_markup_depth(markup: str) -> None:
    """Refuse markup nested deeper than MAX_MARKUP_DEPTH before the MJML compiler sees it: it
    parses recursively and a few thousand levels overflow its stack, which kills the process
    (no exception to catch). Fewer tags than the limit cannot nest deeper: no scan."""
    if markup.count("<") <= MAX_MARKUP_DEPTH:
        return
    depth = markup_depth(markup)
    if depth > MAX_MARKUP_DEPTH:
        raise RenderBudgetExceeded(
            f"over the render budget: the markup nests {depth} levels deep; "
            f"the limit is {MAX_MARKUP_DEPTH}"
        )


def _render_parts(compiled: CompiledContent, context: dict) -> tuple[str, str, str]:
    # HTML-escape the body only, never subject or text.
    if compiled.whole is None:
        # A Context writes a tag's `as` variable into its top dict: one copy per part.
        subject = compiled.subject.render(Context(dict(context), autoescape=False))
        body = compiled.body.render(Context(dict(context), autoescape=True))
        text = compiled.text.render(Context(dict(context), autoescape=False))
    else:
        rendered = compiled.whole.render(Context(context, autoescape=True)).split(PART_MARKER)
        if len(rendered) != 3:  # a tag that swallows or repeats a marker
            raise ValueError("the template's parts could not be told apart once rendered")
        body, text, subject = rendered
    return body, text, subject


def syntax_errors(content: Content) -> dict[str, str]:
    """Errors by field ("subject", "body", "text_body"): empty parts, syntax, and tags or
    filters campaign templates may not use (named). Parsing only, nothing is rendered: the
    sample render runs apart, bounded (campaigns.bounded_render)."""
    errors: dict[str, str] = {}
    if not content.subject.strip():
        errors["subject"] = "The subject is empty."
    if not content.body.strip():
        errors["body"] = "The body is empty."
    if errors:
        return errors
    for field, source, autoescape in (
        ("subject", content.subject, False),
        ("body", content.body, True),
        ("text_body", content.text_body, False),
    ):
        try:
            engine(autoescape=autoescape, strict=False).from_string(source)
        except RefusedInTemplate as exc:
            errors[field] = str(exc)
            continue
        except TemplateSyntaxError as exc:
            errors[field] = f"Template syntax error: {exc}"
            continue
        # Django leaves an unclosed "{{ name" as literal text; in an email that is a mistake.
        for opening, closing in (("{{", "}}"), ("{%", "%}")):
            if source.count(opening) != source.count(closing):
                errors[field] = f"Template syntax error: an unclosed {opening} … {closing} tag."
    return errors
