"""Holes a second reading of the safety work found, kept closed: markup nested deep enough to
crash the MJML compiler, a quadratic `join`, quoted local parts, and a `from` in a form Resend
refuses (which must fail one message, not pause its domain)."""

import subprocess
import sys
import textwrap

import pytest
from django.core.exceptions import ValidationError

from campaigns.exceptions import RenderBudgetExceeded
from campaigns.models import BodyFormat
from campaigns.templating import (
    MAX_MARKUP_DEPTH,
    Content,
    check_markup_depth,
    compile_content,
    markup_depth,
    render_content,
)
from queueing.outcomes import SenderRefused
from queueing.resend.answers import error_outcome
from queueing.validation import normalise_address, validate_sender
from recipients.normalise import normalise_email
from tests.conftest import ROOT

DEEP = '{% if recipient.email != "sample@example.com" %}' + (
    '{% for i in "' + "x" * 3000 + '" %}<mj-wrapper>{% endfor %}'
    '{% for i in "' + "x" * 3000 + '" %}</mj-wrapper>{% endfor %}{% endif %}'
)


def mjml(inner: str) -> Content:
    return Content(
        subject="Hi",
        body_format=BodyFormat.MJML,
        body=f"<mjml><mj-body>{inner}<mj-section><mj-column><mj-text>"
        "{{ unsubscribe_url }}</mj-text></mj-column></mj-section></mj-body></mjml>",
    )


def test_markup_depth_counts_as_the_parser_nests():
    assert markup_depth("<a><b></b><c/><br><img src='x'></a>") == 2
    assert markup_depth("<p>one<p>two<p>three") == 3  # left open: nested, as the parser reads it
    assert markup_depth("</x></y><a>") == 1


def test_ordinary_templates_pass_the_depth_check_without_a_scan():
    check_markup_depth("<mj-section>" * 10 + "</mj-section>" * 10)
    check_markup_depth("<br>" * 5000)  # many tags, none nested


def test_markup_nested_deeper_than_the_limit_is_over_the_budget():
    with pytest.raises(RenderBudgetExceeded, match="nests"):
        check_markup_depth("<div>" * (MAX_MARKUP_DEPTH + 1))


def test_a_deeply_nested_render_fails_in_this_process_instead_of_killing_it():
    """Run where a crash would show: a child process renders the hostile template for a real
    recipient; before the depth check the MJML compiler overflowed its stack (exit -11)."""
    script = textwrap.dedent(
        """
        import django, os
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        django.setup()
        from campaigns.exceptions import RenderBudgetExceeded
        from campaigns.templating import compile_content, render_content
        from tests.campaigns.test_review_hardening import DEEP, mjml
        compiled = compile_content(mjml(DEEP))
        try:
            render_content(compiled, {"recipient": {"email": "a@example.com"},
                                      "unsubscribe_url": "u", "postal_address": "p"})
        except RenderBudgetExceeded as exc:
            print("refused:", exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert "refused: over the render budget: the markup nests" in result.stdout


def test_join_is_refused_before_it_builds_a_quadratic_string(settings):
    settings.MAILHUB_RENDER_MAX_CHARS = 100_000
    body = (
        '{% with a="' + "x" * 3000 + '" %}{{ a|join:a|length }}{% endwith %}{{ unsubscribe_url }}'
    )
    compiled = compile_content(Content(subject="s", body_format=BodyFormat.HTML, body=body))
    with pytest.raises(RenderBudgetExceeded):
        render_content(compiled, {"unsubscribe_url": "u", "postal_address": "p"})


def test_an_ordinary_join_still_works():
    compiled = compile_content(
        Content(
            subject="s",
            body_format=BodyFormat.HTML,
            body="{{ tags|join:', ' }} {{ unsubscribe_url }}",
        )
    )
    rendered = render_content(
        compiled, {"tags": ["a", "b", "c"], "unsubscribe_url": "u", "postal_address": "p"}
    )
    assert "a, b, c" in rendered.html


def test_quoted_local_parts_are_read_as_resend_would_or_refused():
    # Quotes that change nothing are dropped by the parser: the mailbox is bob@example.com.
    assert normalise_address('"bob"@example.com', "to") == "bob@example.com"
    for value in ('"a b"@example.com', 'Bob <"b,c"@example.com>'):
        with pytest.raises(ValidationError, match="quoted local part"):
            normalise_address(value, "to")
    # A recipient row stores one canonical form, never a quoted one the suppression check
    # would read differently.
    with pytest.raises(ValidationError, match="quoted local part"):
        normalise_email('"bob"@example.com')
    with pytest.raises(ValidationError):
        normalise_email('"a b"@example.com')


def test_a_sender_in_a_form_resend_refuses_is_refused_when_created():
    with pytest.raises(ValidationError, match="quoted local part"):
        validate_sender('"a@b"@example.com')
    with pytest.raises(ValidationError, match="quoted local part"):
        validate_sender('x <"a,b"@example.com>')


def test_invalid_from_address_fails_the_message_without_pausing_its_domain():
    from resend.exceptions import ResendError

    exc = ResendError(
        code=422,
        error_type="invalid_from_address",
        message="Invalid `from` field.",
        suggested_action="",
    )
    outcome = error_outcome(exc)
    assert isinstance(outcome, SenderRefused) and outcome.whole_domain is False
