"""Templates: Django syntax rendered per recipient first, MJML compiled after."""

import pytest
from django.core.exceptions import ValidationError

from campaigns.rendering import SampleRecipient, render_for
from campaigns.selectors import template_content
from campaigns.services import template_create
from campaigns.templating import compile_content
from campaigns.text import html_to_text
from recipients.models import Recipient
from recipients.unsubscribe import list_unsubscribe_headers, unsubscribe_url

pytestmark = pytest.mark.django_db


def render(template, recipient, **kwargs):
    return render_for(compile_content(template_content(template)), recipient, None, None, **kwargs)


def test_if_and_for_inside_mjml_shape_the_output(template):
    pro = Recipient.objects.create(
        email="pro@example.com", first_name="Ada", attributes={"plan": "pro", "items": ["a", "b"]}
    )
    free = Recipient.objects.create(
        email="free@example.com", first_name="Bob", attributes={"plan": "free", "items": []}
    )
    pro_mail, free_mail = render(template, pro), render(template, free)
    assert "Hello Ada!" in pro_mail.html and "Thanks for being pro." in pro_mail.html
    assert "Item: a" in pro_mail.html and "Item: b" in pro_mail.html
    assert "Thanks for being pro." not in free_mail.html and "Item:" not in free_mail.html
    assert "<mj-" not in pro_mail.html and "<table" in pro_mail.html  # compiled MJML
    assert pro_mail.subject == "News for Ada"
    assert pro.unsubscribe_token in pro_mail.html
    # The per-batch link template gives exactly what recipients.unsubscribe builds.
    assert pro_mail.headers == list_unsubscribe_headers(pro)
    assert unsubscribe_url(pro) in pro_mail.html


def test_variables_are_autoescaped_in_html_but_not_in_subject_or_text(template):
    person = Recipient.objects.create(email="x@example.com", first_name="<b>Tom & Jerry</b>")
    mail = render(template, person)
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in mail.html and "<b>Tom" not in mail.html
    assert mail.subject == "News for <b>Tom & Jerry</b>"
    assert "Hello <b>Tom & Jerry</b>!" in mail.text


def test_parts_stay_apart_whatever_the_recipient_data_holds(db):
    # Body, text and subject render as one template: data that looks like template syntax
    # or an attribute that is missing must not blur where one part ends.
    template = template_create(
        name="Parts",
        slug="parts",
        subject="{{ recipient.first_name }}{% if recipient.attributes.plan %} (plan){% endif %}",
        body=(
            "<p>{% if recipient.attributes.plan %}Plan {{ recipient.attributes.plan }}"
            "{% else %}No plan{% endif %} for {{ recipient.first_name }}. "
            '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        ),
        body_format="html",
        text_body="Text for {{ recipient.first_name }}.{% if not recipient.attributes.plan %} "
        "No plan.{% endif %}",
    )
    name = "{% endautoescape %}<i>{{ x }}</i>"
    person = Recipient.objects.create(email="p@example.com", first_name=name, attributes={})
    mail = render(template, person)
    assert mail.subject == name
    assert mail.text.startswith(f"Text for {name}. No plan.")
    assert "No plan for {% endautoescape %}&lt;i&gt;{{ x }}&lt;/i&gt;" in mail.html
    assert "Text for" not in mail.html and "<p>" not in mail.text
    planned = Recipient.objects.create(
        email="q@example.com", first_name="Q", attributes={"plan": "pro"}
    )
    mail = render(template, planned)
    assert (mail.subject, "Plan pro for Q." in mail.html) == ("Q (plan)", True)
    assert "No plan" not in mail.text


def test_derived_text_keeps_links_and_drops_tags(template, settings):
    person = Recipient.objects.create(email="t@example.com", first_name="Tia")
    mail = render(template, person)
    assert "<" not in mail.text
    assert "Unsubscribe (http" in mail.text and person.unsubscribe_token in mail.text
    assert (
        settings.MAILHUB_POSTAL_ADDRESS in mail.text
        and settings.MAILHUB_POSTAL_ADDRESS in mail.html
    )


def test_html_to_text():
    text = html_to_text(
        '<html><head><style>p{}</style></head><body><p>Hi &amp; <a href="https://a.example/x">read more</a></p><ul><li>one</li></ul></body></html>'
    )
    assert text == "Hi & read more (https://a.example/x)\n\n- one"


def test_missing_variable_is_an_error_in_strict_templates(template):
    strict = template_create(
        name="S",
        slug="s",
        subject="Hi",
        body="<p>{{ recipient.attributes.plan }} {{ unsubscribe_url }}</p>",
        body_format="html",
    )
    person = Recipient.objects.create(email="n@example.com", attributes={})
    with pytest.raises(Exception, match=r"recipient\.attributes\.plan"):
        render(strict, person)
    strict.strict_variables = False
    assert "<p> http" in render(strict, person).html


@pytest.mark.parametrize(
    ("field", "kwargs", "message"),
    [
        ("body", {"body": "<mjml><mj-body><mj-section>"}, "MJML"),
        ("body", {"body": "<mjml><mj-body>{% if x %}</mj-body></mjml>"}, "syntax"),
        ("subject", {"subject": "Hi {{ name"}, "syntax"),
        ("body", {"body": "   "}, "empty"),
    ],
)
def test_broken_templates_are_refused_and_not_saved(db, field, kwargs, message):
    values = {
        "name": "Bad",
        "slug": "bad",
        "subject": "Hi",
        "body": "<mjml><mj-body></mj-body></mjml>",
        **kwargs,
    }
    with pytest.raises(ValidationError) as error:
        template_create(**values)
    assert message.lower() in " ".join(error.value.message_dict[field]).lower()
    from campaigns.models import Template

    assert not Template.objects.filter(slug="bad").exists()


def test_sample_recipient_preview(template):
    mail = render(template, SampleRecipient(), real_links=False)
    assert "Hello Sample!" in mail.html and mail.headers == {}


def test_a_body_whose_parts_cannot_be_joined_renders_part_by_part(db):
    # A tag that sets a variable (`as note`) would leak into the parts after it if they were
    # joined, so these parts render apart instead of as one template.
    template = template_create(
        name="Blocks",
        slug="blocks",
        subject="Hi {{ recipient.first_name }}",
        body=(
            "<p>{% with greeting='Hello' %}{{ greeting }} {{ recipient.first_name }}{% endwith %}. "
            '{% firstof "set in the body" as note %}{{ note }} '
            '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        ),
        body_format="html",
    )
    person = Recipient.objects.create(email="b@example.com", first_name="Bea")
    compiled = compile_content(template_content(template))
    assert compiled.whole is None
    mail = render(template, person)
    assert "Hello Bea. set in the body" in mail.html
    assert mail.text.startswith("Hello Bea. set in the body") and mail.subject == "Hi Bea"


def test_a_variable_one_part_sets_stays_in_that_part(db):
    template = template_create(
        name="Scoped",
        slug="scoped",
        subject="{{ recipient.first_name }}",
        body='<p>{% firstof "from the body" as note %}{{ note }} {{ unsubscribe_url }}</p>',
        body_format="html",
        text_body="Text: {% if note %}leaked{% else %}own{% endif %}",
    )
    person = Recipient.objects.create(email="s@example.com", first_name="Sam")
    mail = render(template, person)
    assert "from the body" in mail.html and mail.text.startswith("Text: own")
