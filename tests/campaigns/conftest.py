"""Fixtures for the campaigns tests: lists with subscribers, a template, a campaign."""

from collections.abc import Callable

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Template
from campaigns.services import campaign_create, campaign_send, template_create
from queueing.models import Message
from recipients.models import List, Recipient, Subscription

MJML = """<mjml><mj-body><mj-section><mj-column>
<mj-text>Hello {{ recipient.first_name }}!</mj-text>
{% if recipient.attributes.plan == "pro" %}<mj-text>Thanks for being pro.</mj-text>{% endif %}
{% for item in recipient.attributes.items %}<mj-text>Item: {{ item }}</mj-text>{% endfor %}
<mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button>
</mj-column></mj-section></mj-body></mjml>"""


@pytest.fixture
def make_list(db) -> Callable[..., List]:
    def make(slug: str = "news") -> List:
        return List.objects.create(slug=slug, name=slug.title())

    return make


@pytest.fixture
def subscribe(db) -> Callable[..., list[Recipient]]:
    """Subscribe `count` people (user0@example.com …) to a list; returns them."""

    def make(lst: List, count: int, *, start: int = 0, **attributes) -> list[Recipient]:
        people = []
        for i in range(start, start + count):
            person, _ = Recipient.objects.get_or_create(
                email=f"user{i}@example.com",
                defaults={"first_name": f"User{i}", "attributes": dict(attributes)},
            )
            Subscription.objects.get_or_create(
                recipient=person,
                list=lst,
                defaults={
                    "status": Subscription.Status.SUBSCRIBED,
                    "source": "admin",
                    "subscribed_at": timezone.now(),
                },
            )
            people.append(person)
        return people

    return make


@pytest.fixture
def template(db) -> Template:
    return template_create(
        name="Newsletter",
        slug="newsletter",
        subject="News for {{ recipient.first_name }}",
        body=MJML,
    )


@pytest.fixture
def make_campaign(db, template, make_list) -> Callable[..., Campaign]:
    def make(lists: list[List] | None = None, **kwargs) -> Campaign:
        return campaign_create(
            name=kwargs.pop("name", "Spring"),
            template=kwargs.pop("template", template),
            lists=lists if lists is not None else [make_list()],
            **kwargs,
        )

    return make


@pytest.fixture
def sent_campaign(
    sandbox, deliver_all, make_campaign, make_list, subscribe
) -> Callable[..., tuple[Campaign, list[Message]]]:
    """A campaign to `size` people, sent by a real worker to the sandbox, and its messages
    in recipient order (for provider events built in tests: tests/campaigns/provider_events)."""

    def make(size: int = 10, **kwargs) -> tuple[Campaign, list[Message]]:
        news = make_list(kwargs.pop("slug", "news"))
        subscribe(news, size, start=kwargs.pop("start", 0))
        campaign = make_campaign([news], **kwargs)
        campaign_send(campaign=campaign)
        deliver_all(timeout=60)
        campaign.refresh_from_db()
        assert campaign.status == "sent" and campaign.sent == size
        messages = list(
            Message.objects.filter(campaign=campaign, is_test=False).order_by("recipient_id")
        )
        return campaign, messages

    return make
