"""The demo's data: two lists of people (through the CSV import), a newsletter template, a
campaign sent to the first list and one still sending to the second, so the admin shows a
living system minutes after `scripts/demo` starts. Every step looks for what an earlier run
made first (by slug or name), so running it again adds nothing.

Used by `manage.py demo_setup`; everything is written through the apps' services.
"""

import io
from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser

from campaigns.models import Campaign, Template
from campaigns.services import campaign_create, campaign_send, template_create
from recipients.imports.service import recipients_import
from recipients.models import List, Subscription

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus"]
PLANS = ["free", "free", "pro"]

TEMPLATE_SLUG = "demo-newsletter"
TEMPLATE_BODY = """<mjml><mj-body><mj-section><mj-column>
<mj-text font-size="20px">Hello {{ recipient.first_name|default:"there" }},</mj-text>
<mj-text>Here is what is new this season{% if recipient.attributes.plan == "pro" %}, with
an extra for our pro customers{% endif %}.</mj-text>
<mj-button href="https://example.com/whats-new">What's new</mj-button>
<mj-text><a href="https://example.com/blog">Read the blog</a></mj-text>
<mj-text font-size="12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""

SENT_NAME = "Spring newsletter (demo)"
LIVE_NAME = "Summer sale (demo)"


def people(prefix: str, count: int) -> Iterator[tuple[str, str, str, str]]:
    """(email, first name, last name, plan) for `count` made-up people; the same every run."""
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], LAST[i // len(FIRST) % len(LAST)]
        yield f"{prefix}{i:05d}@example.com", first, last, PLANS[i % len(PLANS)]


def demo_list(slug: str, prefix: str, count: int, user: AbstractBaseUser) -> tuple[List, int]:
    """The list `slug` with `count` subscribers, imported as a CSV file (the path staff use);
    returns it and how many people this run added."""
    existing = Subscription.objects.filter(list__slug=slug).count()
    if existing >= count:
        return List.objects.get(slug=slug), 0
    rows = "".join(f"{e},{f},{ln},{p}\n" for e, f, ln, p in people(prefix, count))
    csv = io.BytesIO(f"email,first_name,last_name,plan\n{rows}".encode())
    summary = recipients_import(
        file=csv, list_slug=slug, filename=f"{slug}.csv", source="command", created_by=user
    )
    return summary.list, summary.subscribed


def demo_template(user: AbstractBaseUser) -> Template:
    template = Template.objects.filter(slug=TEMPLATE_SLUG).first()
    if template is None:
        template = template_create(
            name="Demo newsletter",
            slug=TEMPLATE_SLUG,
            subject="News for {{ recipient.first_name|default:'you' }}",
            body=TEMPLATE_BODY,
            created_by=user,
        )
    return template


def demo_campaign(
    name: str, template: Template, lst: List, user: AbstractBaseUser
) -> tuple[Campaign, bool]:
    """The campaign `name`, created and sent if this is the first run; (campaign, started)."""
    campaign = Campaign.objects.filter(name=name).first()
    if campaign is not None:
        return campaign, False
    campaign = campaign_create(name=name, template=template, lists=[lst], created_by=user)
    campaign_send(campaign=campaign, user=user)
    campaign.refresh_from_db()
    return campaign, True
