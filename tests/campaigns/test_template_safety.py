"""Templates cannot take a worker or the web process down (issue 11, item 3; table rows #4
and #14): the allow-list at save, the render budget in the worker, bounded previews."""

import tracemalloc

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns import fanout, rendering
from campaigns.exceptions import RenderBudgetExceeded
from campaigns.forms import TemplateForm
from campaigns.models import Template
from campaigns.rendering import render_for, render_messages, template_preview
from campaigns.selectors import template_content
from campaigns.services import campaign_send, campaign_test_send, template_create
from campaigns.template_language import ALLOWED_FILTERS, ALLOWED_TAGS
from campaigns.templating import compile_content
from queueing.hooks import NotEligible, Rendered, RenderFailed
from queueing.models import EventKind, FailureCode, Message, MessageEvent, MessageStatus
from queueing.services import message_create
from recipients.models import Recipient
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db

UNSUBSCRIBE = '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'


def five_loops(inner: str = "{{ recipient.email }}") -> str:
    """Table row #4: five nested loops over the address's characters (20^5 iterations),
    hidden from the sample person (no attributes) by an {% if %}."""
    loops = "".join(f"{{% for c{i} in recipient.email %}}" for i in range(5))
    return (
        f"<p>Hi {{{{ recipient.first_name }}}} {UNSUBSCRIBE}</p>"
        f"{{% if recipient.attributes.vip %}}{loops}{inner}{'{% endfor %}' * 5}{{% endif %}}"
    )


def create(body: str, **kwargs) -> Template:
    return template_create(
        name=kwargs.pop("name", "T"),
        slug=kwargs.pop("slug", "t"),
        subject=kwargs.pop("subject", "Hi {{ recipient.first_name }}"),
        body=body,
        body_format=kwargs.pop("body_format", "html"),
        **kwargs,
    )


def refusal(body: str, field: str = "body") -> str:
    with pytest.raises(ValidationError) as error:
        create(body)
    assert not Template.objects.exists()
    return " ".join(error.value.message_dict[field])


# --- refused at save, by name ------------------------------------------------------------


@pytest.mark.parametrize(
    "filter_use",
    [
        'center:"400000000"',
        'ljust:"1000000"',
        'rjust:"1000000"',
        'stringformat:"1000000s"',
        "wordwrap:5",
        'add:"x"',
        "force_escape",
        "addslashes",
        "make_list",
        "urlize",
        "pprint",
        'get_digit:"2"',
        "json_script",
        "unordered_list",
    ],
)
def test_a_filter_outside_the_allow_list_is_refused_by_name(filter_use):
    name = filter_use.split(":")[0]
    message = refusal(f"<p>{{{{ recipient.email|{filter_use} }}}} {UNSUBSCRIBE}</p>")
    assert f"The filter '{name}' is not allowed in campaign templates" in message


@pytest.mark.parametrize(
    "tag",
    [
        "{% debug %}",
        "{% load static %}",
        '{% include "admin/base.html" %}',
        '{% extends "admin/base.html" %}',
        "{% block b %}x{% endblock %}",
        '{% url "admin:index" %}',
        "{% csrf_token %}",
        "{% lorem 100000 w %}",
        "{% widthratio 1 1 100000000000 %}",
        "{% templatetag openblock %}",
        "{% regroup recipient by email as g %}",
        "{% filter upper %}x{% endfilter %}",
        "{% querystring %}",
        "{% unknowntag %}",
    ],
)
def test_a_tag_outside_the_allow_list_is_refused_by_name(tag):
    name = tag.split()[1]
    message = refusal(f"<p>{tag} {UNSUBSCRIBE}</p>")
    assert f"The tag '{name}' is not allowed in campaign templates" in message


def test_a_refused_tag_inside_a_block_is_named_too():
    message = refusal(
        f"<p>{{% if recipient.attributes.x %}}{{% debug %}}{{% endif %}}{UNSUBSCRIBE}</p>"
    )
    assert "The tag 'debug' is not allowed" in message


def test_subject_and_text_are_held_to_the_same_list():
    with pytest.raises(ValidationError) as error:
        create(f"<p>{UNSUBSCRIBE}</p>", subject='{{ recipient.email|ljust:"99999" }}')
    assert "The filter 'ljust' is not allowed" in error.value.message_dict["subject"][0]
    with pytest.raises(ValidationError) as error:
        create(f"<p>{UNSUBSCRIBE}</p>", text_body="{% debug %}")
    assert "The tag 'debug' is not allowed" in error.value.message_dict["text_body"][0]


@pytest.mark.parametrize(
    "filter_use",
    [
        'floatformat:"11"',
        "floatformat:200",
        'floatformat:"-400000000"',
        "floatformat:recipient.attributes.digits",
        "truncatechars:100000",
        "truncatewords:recipient.attributes.n",
        'truncatewords:"x"',
    ],
)
def test_a_size_argument_must_be_a_small_literal(filter_use):
    name = filter_use.split(":")[0]
    message = refusal(f"<p>{{{{ recipient.email|{filter_use} }}}} {UNSUBSCRIBE}</p>")
    assert f"The filter '{name}' takes a literal number from" in message


def test_row_4_center_is_refused_at_save_without_allocating():
    """Table row #4: `center:"400000000"` used 1.5 GB in the web process during validation."""
    tracemalloc.start()
    try:
        message = refusal(f'<p>{{{{ recipient.email|center:"400000000" }}}} {UNSUBSCRIBE}</p>')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "The filter 'center' is not allowed in campaign templates" in message
    assert peak < 20 * 1024 * 1024  # parsing only: nothing near the 400 MB a render would take


def test_row_14_debug_is_refused_at_save():
    """Table row #14: `{% debug %}` put a 129 KB dump of the context in the email."""
    message = refusal(f"<p>{{% debug %}} {UNSUBSCRIBE}</p>")
    assert "The tag 'debug' is not allowed in campaign templates" in message


def test_the_admin_form_names_the_refused_filter():
    form = TemplateForm(
        data={
            "name": "Wide",
            "slug": "wide",
            "subject": "Hi",
            "body_format": "html",
            "body": f'<p>{{{{ recipient.email|center:"400000000" }}}} {UNSUBSCRIBE}</p>',
            "text_body": "",
            "strict_variables": "on",
        }
    )
    assert not form.is_valid()
    assert "The filter 'center' is not allowed" in form.errors["body"][0]


# --- what is allowed still works ---------------------------------------------------------


def test_the_allowed_tags_and_filters_render():
    template = create(
        "<p>{% autoescape on %}{% spaceless %}<b> <i>{{ recipient.first_name|upper }}</i> </b>"
        "{% endspaceless %}{% endautoescape %} {{ recipient.last_name|default:'friend'|title }}"
        " {% with plan=recipient.attributes.plan %}{% if plan == 'pro' %}pro{% elif plan %}"
        "other{% else %}none{% endif %}{% endwith %}"
        " {% for item in recipient.attributes.things %}{% cycle 'odd' 'even' %}:"
        "{{ item|capfirst }}{% ifchanged %}!{% endifchanged %}{% empty %}no items{% endfor %}"
        " {{ recipient.attributes.price|floatformat:2 }}"
        " {{ recipient.attributes.blurb|truncatewords:3 }}"
        " {{ recipient.attributes.blurb|truncatechars:8 }} {{ recipient.attributes.things|length }}"
        " {{ recipient.attributes.things|join:', ' }} {{ recipient.attributes.things|first }}"
        " {{ recipient.attributes.things|last }} {{ recipient.attributes.things|length|pluralize }}"
        " {{ recipient.attributes.vip|yesno:'VIP,regular' }} {{ recipient.email|urlencode }}"
        " {% firstof recipient.attributes.nick recipient.first_name %}"
        " {{ recipient.attributes.blurb|wordcount }} {{ '<i>x</i>'|striptags }}"
        " {% now 'Y' as year %}{{ year|length }}"
        " {# a comment #}{% comment %}hidden{% endcomment %}"
        f" {{% verbatim %}}{{{{ raw }}}}{{% endverbatim %}} {UNSUBSCRIBE}</p>"
    )
    assert set(ALLOWED_TAGS) >= {"if", "for", "with", "firstof", "cycle", "now", "spaceless"}
    assert set(ALLOWED_FILTERS) >= {"default", "date", "upper", "title", "floatformat"}
    person = Recipient.objects.create(
        email="a+b@example.com",
        first_name="Ada",
        attributes={
            "plan": "pro",
            "things": ["tea", "cake"],
            "price": 3.14159,
            "blurb": "one two three four five",
            "vip": True,
        },
    )
    mail = render_for(compile_content(template_content(template)), person, None, None)
    html = mail.html
    assert html.startswith("<p><b><i>ADA</i></b> Friend pro odd:Tea!even:Cake 3.14 one two")
    assert "2 tea, cake tea cake s VIP a%2Bb%40example.com Ada 5 x 4  {{ raw }} <a" in html
    assert "hidden" not in html


# --- the render budget in the worker -----------------------------------------------------


@pytest.fixture
def tight_budget(settings):
    settings.MAILHUB_RENDER_TIME_LIMIT = 0.05
    settings.MAILHUB_RENDER_GROUP_TIME_LIMIT = 1.0
    return settings


def test_row_4_hidden_loops_pass_the_sample_render_but_not_the_budget(tight_budget):
    # Saved: the sample person has no attributes, so the loops never run at save.
    template = create(five_loops(inner=""))  # the loops produce nothing: time is the limit
    vip = Recipient.objects.create(email="vip@example.com", attributes={"vip": True})
    compiled = compile_content(template_content(template))
    with pytest.raises(RenderBudgetExceeded, match="over the render budget: it took longer"):
        render_for(compiled, vip, None, None)


def test_the_output_cap_stops_a_loop_while_it_grows(settings):
    settings.MAILHUB_RENDER_MAX_CHARS = 10_000
    settings.MAILHUB_RENDER_TIME_LIMIT = 60.0  # not the limit here
    template = create(five_loops())
    vip = Recipient.objects.create(email="vip@example.com", attributes={"vip": True})
    compiled = compile_content(template_content(template))
    tracemalloc.start()
    try:
        with pytest.raises(RenderBudgetExceeded, match="output is over 10,000 characters"):
            render_for(compiled, vip, None, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024  # stopped near the cap, not after 20^5 addresses (48 MB)


def test_a_filter_chain_is_held_to_the_output_cap(settings):
    settings.MAILHUB_RENDER_MAX_CHARS = 1_000
    template = create(f"<p>{{{{ recipient.attributes.big|linebreaksbr }}}} {UNSUBSCRIBE}</p>")
    person = Recipient.objects.create(email="big@example.com", attributes={"big": "\n" * 400})
    with pytest.raises(RenderBudgetExceeded, match="output is over 1,000 characters"):
        render_for(compile_content(template_content(template)), person, None, None)


def test_the_budget_is_not_forgotten_inside_an_if_condition(tight_budget):
    # {% if %} turns an exception in its condition into False; the budget raises again.
    loops = "".join(f"{{% for c{i} in recipient.email %}}" for i in range(5))
    body = (
        f"<p>{loops}{{% if c0|upper == 'zz' %}}x{{% endif %}}{'{% endfor %}' * 5} {UNSUBSCRIBE}</p>"
    )
    template = create(body.replace("{% for c0", "{% if recipient.attributes.vip %}{% for c0")
                      .replace("</p>", "{% endif %}</p>"))  # fmt: skip
    vip = Recipient.objects.create(email="vip@example.com", attributes={"vip": True})
    with pytest.raises(RenderBudgetExceeded):
        render_for(compile_content(template_content(template)), vip, None, None)


def hostile_campaign(make_campaign, make_list, subscribe, count: int):
    news = make_list()
    subscribe(news, count, vip=True)
    template = create(five_loops(inner=""), slug="hostile")
    campaign = make_campaign([news], template=template)
    campaign_send(campaign=campaign)
    return campaign


@pytest.mark.django_db(transaction=True)
def test_once_one_message_is_over_budget_the_rest_of_its_group_is_set_aside(
    tight_budget, make_campaign, make_list, subscribe, monkeypatch
):
    campaign = hostile_campaign(make_campaign, make_list, subscribe, 6)
    fanout.fanout_run(campaign_id=campaign.pk)
    Recipient.objects.filter(email="user5@example.com").delete()  # still told apart: deleted
    renders = []
    real_render_for = rendering.render_for

    def counting_render_for(*args, **kwargs):
        renders.append(args[1].email)
        return real_render_for(*args, **kwargs)

    monkeypatch.setattr(rendering, "render_for", counting_render_for)
    messages = list(Message.objects.filter(campaign=campaign).order_by("pk"))
    results = render_messages(messages)
    assert renders == ["user0@example.com"]  # the rest were never rendered
    first, *rest, deleted = (results[m.pk] for m in messages)
    assert isinstance(first, RenderFailed) and "over the render budget" in first.reason
    assert all(isinstance(r, RenderFailed) for r in rest)
    assert all(r.reason.startswith("render budget: not rendered") for r in rest)
    assert isinstance(deleted, NotEligible)


@pytest.mark.django_db(transaction=True)
def test_a_hostile_group_fails_with_the_reason_through_a_real_worker(
    tight_budget, sandbox, deliver_all, make_campaign, make_list, subscribe
):
    campaign = hostile_campaign(make_campaign, make_list, subscribe, 5)
    deliver_all(timeout=30)
    rows = Message.objects.filter(campaign=campaign)
    assert rows.count() == 5
    assert set(rows.values_list("status", "failure_code")) == {
        (MessageStatus.FAILED, FailureCode.RENDER_BUDGET)
    }
    errors = list(rows.order_by("pk").values_list("last_error", flat=True))
    assert "over the render budget" in errors[0]
    assert all(e.startswith("render budget: not rendered") for e in errors[1:])
    assert sandbox.emails() == []


def test_a_harmless_campaign_still_renders_under_the_budget(template, make_list, subscribe):
    (person,) = subscribe(make_list(), 1, plan="pro", items=["a"])
    mail = render_for(compile_content(template_content(template)), person, None, None)
    assert isinstance(mail, Rendered) and "Thanks for being pro." in mail.html


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_transactional_message_queued_behind_a_hostile_campaign_goes_first(
    sandbox, start_worker, make_campaign, make_list, subscribe
):
    """Table row #4: a transactional message waited 45 s behind the hostile campaign. Shown by
    order: it is sent before the hostile campaign's messages are all recorded."""
    campaign = hostile_campaign(make_campaign, make_list, subscribe, 500)  # five groups
    hostile = Message.objects.filter(campaign=campaign, is_test=False)
    start_worker(MAILHUB_RENDER_TIME_LIMIT="0.3")
    assert wait_until(lambda: hostile.filter(status=MessageStatus.FAILED).exists(), 60)
    reset = message_create(to=["ada@example.com"], subject="Reset your password", text="123456")
    assert wait_until(
        lambda: (
            not hostile.exclude(status=MessageStatus.FAILED).exists()
            and Message.objects.filter(pk=reset.pk, status=MessageStatus.SENT).exists()
        ),
        60,
    )
    sent = MessageEvent.objects.get(message=reset, kind=EventKind.SENT).pk
    failed = MessageEvent.objects.filter(message__in=hostile, kind=EventKind.FAILED)
    assert failed.count() == 500
    assert failed.filter(pk__gt=sent).exists(), "the reset waited for the whole hostile campaign"
    assert [e["request"]["to"] for e in sandbox.emails()] == [["ada@example.com"]]


# --- previews, test sends and the sample render run bounded ------------------------------


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_row_4_preview_answers_with_the_budget_message(admin_client, tight_budget):
    template = create(five_loops())
    vip = Recipient.objects.create(email="vip@example.com", attributes={"vip": True})
    url = reverse("admin:campaigns_template_preview", args=[template.pk])
    page = admin_client.get(url, {"recipient": vip.email}).content.decode()
    assert "The template does not render: over the render budget" in page
    assert "vip@example.comvip@example.com" not in page
    assert "Hi" in admin_client.get(url).content.decode()  # the sample person is fine


@pytest.mark.django_db(transaction=True)
def test_preview_output_is_capped_in_the_child(tight_budget):
    tight_budget.MAILHUB_RENDER_TIME_LIMIT = 60.0
    tight_budget.MAILHUB_RENDER_MAX_CHARS = 5_000
    template = create(five_loops())
    vip = Recipient.objects.create(email="vip@example.com", attributes={"vip": True})
    with pytest.raises(RenderBudgetExceeded, match="output is over 5,000 characters"):
        template_preview(template, vip)


@pytest.mark.django_db(transaction=True)
def test_a_preview_that_runs_out_of_wall_clock_is_stopped(settings):
    settings.MAILHUB_RENDER_TIME_LIMIT = 600.0
    settings.MAILHUB_PREVIEW_TIMEOUT = 0.5  # the child is killed, whatever it is doing
    template = create(five_loops(inner=""))
    vip = Recipient.objects.create(email="vip@example.com", attributes={"vip": True})
    with pytest.raises(RenderBudgetExceeded, match="over the render budget"):
        template_preview(template, vip)


@pytest.mark.django_db(transaction=True)
def test_a_preview_over_the_memory_limit_is_stopped(settings):
    settings.MAILHUB_RENDER_TIME_LIMIT = 600.0
    settings.MAILHUB_RENDER_MAX_CHARS = 10**10
    settings.MAILHUB_PREVIEW_MEMORY_MB = 32
    # Only the memory limit may stop it: the wall clock is far away, and each iteration adds
    # kilobytes, so even a busy machine reaches 32 MiB in a fraction of that time.
    settings.MAILHUB_PREVIEW_TIMEOUT = 300.0
    template = create(five_loops(inner="{{ recipient.email }}" * 200))
    vip = Recipient.objects.create(email="vip@example.com", attributes={"vip": True})
    with pytest.raises(RenderBudgetExceeded, match="MiB of memory"):
        template_preview(template, vip)


@pytest.mark.django_db(transaction=True)
def test_a_sample_render_over_budget_is_refused_at_save(tight_budget):
    # Not hidden: the loops run for the sample person too, in the bounded child.
    message = refusal(
        five_loops(inner="").replace("{% if recipient.attributes.vip %}", "{% if 1 %}")
    )
    assert "For a sample recipient the template is over the render budget" in message


@pytest.mark.django_db(transaction=True)
def test_a_test_send_of_a_hostile_campaign_is_refused_with_the_budget(
    tight_budget, make_campaign, make_list
):
    template = create(five_loops(inner=""), slug="hostile")
    campaign = make_campaign([make_list()], template=template)
    vip = Recipient.objects.create(email="vip@example.com", attributes={"vip": True})
    with pytest.raises(ValidationError, match="over the render budget"):
        campaign_test_send(campaign=campaign, to=["qa@example.com"], recipient=vip)
    assert not Message.objects.exists()
