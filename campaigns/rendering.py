"""The renderer queueing calls just before a campaign message's first send
(see queueing.rendering): frozen campaign content + the recipient's data → final content.

One bad recipient never fails the batch: each message gets its own result.
"""

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from campaigns.bounded_render import render_bounded
from campaigns.exceptions import RenderBudgetExceeded
from campaigns.models import Campaign, Template
from campaigns.selectors import campaign_content, still_subscribed, template_content
from campaigns.template_language import RenderBudget
from campaigns.templating import (
    Attributes,
    CompiledContent,
    Content,
    RenderedContent,
    compile_content,
    message_budget,
    render_content,
)
from queueing.hooks import NotEligible, Rendered, RenderFailed, RenderResult
from queueing.models import Message
from recipients.models import List, Recipient
from recipients.selectors import may_receive
from recipients.unsubscribe import list_unsubscribe_headers, preferences_url, unsubscribe_url

# Compiled per campaign once per process (a drain job renders hundreds of its messages).
_compiled: dict[tuple[int, datetime | None], CompiledContent] = {}


def compiled_for(campaign: Campaign) -> CompiledContent:
    key = (campaign.pk, campaign.frozen_at)
    if key not in _compiled:
        if len(_compiled) > 64:
            _compiled.clear()
        _compiled[key] = compile_content(campaign_content(campaign))
    return _compiled[key]


# Frozen campaigns (with their lists) per process for a few seconds: a drain renders a batch
# of the same campaign every few milliseconds, and what rendering reads of a campaign is
# fixed once it is frozen.
FROZEN_CACHE_SECONDS = 5.0
_frozen: dict[int, tuple[float, Campaign]] = {}


def frozen_campaigns(ids: list[int]) -> dict[int, Campaign]:
    now = time.monotonic()
    found = {i: c for i, (at, c) in _frozen.items() if i in ids and now - at < FROZEN_CACHE_SECONDS}
    missing = [i for i in ids if i not in found]
    if missing:
        if len(_frozen) > 64:
            _frozen.clear()
        for campaign in Campaign.objects.prefetch_related("lists").filter(pk__in=missing):
            found[campaign.pk] = campaign
            if campaign.is_frozen:
                _frozen[campaign.pk] = (now, campaign)
    return found


def unsubscribe_list(campaign: Campaign) -> List | None:
    """The list an unsubscribe link leaves: the campaign's list, or all marketing when it
    went to several (the preferences page lets people choose)."""
    lists = list(campaign.lists.all())
    return lists[0] if len(lists) == 1 else None


@dataclass(frozen=True)
class Links:
    """A recipient's unsubscribe links and List-Unsubscribe headers, built by
    recipients.unsubscribe once per list with a placeholder token and then filled in per
    recipient: three reverse() calls per email cost about 65 µs (see docs/CAMPAIGNS.md).
    Tokens are URL-safe, so putting one in by string replacement equals reversing with it."""

    unsubscribe: str
    preferences: str
    headers: dict[str, str]

    def fill(self, token: str) -> tuple[str, str, dict[str, str]]:
        return (
            self.unsubscribe.replace(PLACEHOLDER, token),
            self.preferences.replace(PLACEHOLDER, token),
            {k: v.replace(PLACEHOLDER, token) for k, v in self.headers.items()},
        )


PLACEHOLDER = "mailhubtokenplaceholder"


def links_for(list: List | None, campaign_id: int | None = None) -> Links:
    """`campaign_id`: the unsubscribe links carry it, signed (recipients.attribution), so an
    unsubscribe is counted for the campaign it came from; signed once per group, not per email."""
    person = SampleRecipient(unsubscribe_token=PLACEHOLDER)
    return Links(
        unsubscribe=unsubscribe_url(person, list, campaign_id),
        preferences=preferences_url(person),
        headers=list_unsubscribe_headers(person, list, campaign_id=campaign_id),
    )


@dataclass(frozen=True)
class SampleRecipient:
    """Stands in for a recipient in previews and validation; never saved."""

    email: str = "sample@example.com"
    first_name: str = "Sample"
    last_name: str = "Recipient"
    external_id: str = ""
    attributes: dict | None = None
    unsubscribe_token: str = "sample-token"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class RecipientData:
    """What rendering reads of a recipient, fetched as plain values: building a hundred model
    instances per batch costs more than the query."""

    pk: int
    email: str
    first_name: str
    last_name: str
    external_id: str | None
    attributes: dict | None
    unsubscribe_token: str

    FIELDS = ("pk", "email", "first_name", "last_name", "external_id", "attributes")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def recipient_data(ids: list[int]) -> dict[int, RecipientData]:
    rows = Recipient.objects.filter(pk__in=ids).values_list(
        *RecipientData.FIELDS, "unsubscribe_token"
    )
    return {row[0]: RecipientData(*row) for row in rows}


def recipient_context(
    recipient: Recipient | RecipientData | SampleRecipient,
    campaign: Campaign | None,
    list: List | None,
    *,
    real_links: bool = True,
    links: Links | None = None,
) -> tuple[dict, dict[str, str]]:
    """The variables a template sees, and the List-Unsubscribe headers. Plain data, not model
    instances: a template must not be able to call methods on the database objects."""
    headers: dict[str, str] = {}
    if isinstance(recipient, SampleRecipient) or not real_links:
        unsubscribe = preferences = f"{settings.MAILHUB_BASE_URL.rstrip('/')}/#sample-link"
    else:
        links = links or links_for(list, campaign.pk if campaign is not None else None)
        unsubscribe, preferences, headers = links.fill(recipient.unsubscribe_token)
    return {
        "recipient": {
            "email": recipient.email,
            "first_name": recipient.first_name,
            "last_name": recipient.last_name,
            "full_name": recipient.full_name,
            "external_id": recipient.external_id or "",
            "attributes": Attributes(recipient.attributes or {}),
        },
        "campaign": {"id": campaign.pk, "name": campaign.name} if campaign else {},
        "unsubscribe_url": unsubscribe,
        "preferences_url": preferences,
        "postal_address": settings.MAILHUB_POSTAL_ADDRESS,
    }, headers


def render_for(
    compiled: CompiledContent,
    recipient: Recipient | RecipientData | SampleRecipient,
    campaign: Campaign | None,
    list: List | None,
    *,
    real_links: bool = True,
    links: Links | None = None,
    budget: RenderBudget | None = None,
) -> Rendered:
    """Final content and headers for one recipient, in this process, under `budget` (default:
    one message's); raises on a render error. Without real_links (test sends) the
    unsubscribe links lead nowhere."""
    context, headers = recipient_context(
        recipient, campaign, list, real_links=real_links, links=links
    )
    return _final(render_content(compiled, context, budget), headers)


def _final(content: RenderedContent, headers: dict[str, str]) -> Rendered:
    if not content.subject:
        raise ValueError("the subject renders empty")
    return Rendered(subject=content.subject, html=content.html, text=content.text, headers=headers)


def render_for_people_bounded(
    content: Content,
    people: list[Recipient | SampleRecipient],
    campaign: Campaign | None,
    list: List | None,
) -> list[Rendered | Exception]:
    """Final content for each person, rendered in a bounded child process
    (campaigns.bounded_render): for the web process (previews, test sends). Links lead
    nowhere. Raises RenderBudgetExceeded when the child runs out of time or memory."""
    prepared = [recipient_context(p, campaign, list, real_links=False) for p in people]
    outcomes = render_bounded(content, [context for context, _ in prepared])
    results: list[Rendered | Exception] = []
    for outcome, (_, headers) in zip(outcomes, prepared, strict=True):
        if isinstance(outcome, Exception):
            results.append(outcome)
            continue
        try:
            results.append(_final(outcome, headers))
        except ValueError as exc:
            results.append(exc)
    return results


def render_messages(messages: list[Message]) -> dict[int, RenderResult]:
    results: dict[int, RenderResult] = {}
    by_campaign: dict[int, list[Message]] = {}
    for message in messages:
        if message.campaign_id is None:
            results[message.pk] = RenderFailed("not a campaign message")
        else:
            by_campaign.setdefault(message.campaign_id, []).append(message)
    campaigns = frozen_campaigns(list(by_campaign))
    for campaign_id, group in by_campaign.items():
        campaign = campaigns.get(campaign_id)
        if campaign is None:
            results.update({m.pk: RenderFailed("the campaign no longer exists") for m in group})
            continue
        results.update(_render_campaign_group(campaign, group))
    return results


def _render_campaign_group(campaign: Campaign, group: list[Message]) -> dict[int, RenderResult]:
    if not campaign.is_frozen:
        return {m.pk: RenderFailed("the campaign's content was never frozen") for m in group}
    try:
        compiled = compiled_for(campaign)
    except Exception as exc:  # frozen content was validated; this is a safety net
        return {m.pk: RenderFailed(f"template error: {exc}") for m in group}
    # The group's render budget starts before its queries: the whole group counts.
    group_deadline = time.monotonic() + settings.MAILHUB_RENDER_GROUP_TIME_LIMIT
    lists = list(campaign.lists.all())
    recipients = recipient_data([m.recipient_id for m in group if m.recipient_id])
    # One query for the batch; the per-person reason is looked up only for the few who left.
    subscribed = still_subscribed(lists, recipients.keys())
    link_list = lists[0] if len(lists) == 1 else None
    links = links_for(link_list, campaign.pk)
    results: dict[int, RenderResult] = {}
    over_budget = ""  # once set, the rest of the group is set aside without rendering
    for message in group:
        recipient = recipients.get(message.recipient_id)
        if recipient is None:
            results[message.pk] = NotEligible("the recipient was deleted")
            continue
        if recipient.pk not in subscribed:
            results[message.pk] = NotEligible(_why_not(recipient, lists))
            continue
        if over_budget:
            results[message.pk] = RenderFailed(over_budget, over_budget=True)
            continue
        budget = message_budget(not_after=group_deadline)
        try:
            results[message.pk] = render_for(
                compiled, recipient, campaign, link_list, links=links, budget=budget
            )
        except RenderBudgetExceeded as exc:
            results[message.pk] = RenderFailed(f"render budget: {exc}", over_budget=True)
            over_budget = (
                f"render budget: not rendered, message {message.pk} of this campaign's group "
                f"went {exc}"
            )
        except Exception as exc:
            results[message.pk] = RenderFailed(f"render error: {exc}")
        except BaseException as exc:
            # mjml-python reports a panic of its Rust code as a BaseException: that one
            # message fails, not the batch.
            if type(exc).__name__ != "PanicException":
                raise
            results[message.pk] = RenderFailed(f"render error: the MJML compiler failed ({exc})")
    return results


def _why_not(recipient: RecipientData, lists: list[List]) -> str:
    reasons = [may_receive(recipient.email, marketing=True, list=lst) for lst in lists]
    return "; ".join(d.reason for d in reasons if not d) or "no longer on the campaign's lists"


def template_preview(
    template: Template, recipient: Recipient | None = None, campaign: Campaign | None = None
) -> Rendered:
    """Preview a template (lenient: a missing variable renders empty) for a recipient or the
    sample recipient, in a bounded child process. Raises what the render raised, e.g.
    RenderBudgetExceeded ("over the render budget: …")."""
    content = dataclasses.replace(template_content(template), strict=False)
    (outcome,) = render_for_people_bounded(
        content, [recipient or SampleRecipient()], campaign, None
    )
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def campaign_preview(campaign: Campaign, recipient: Recipient | None = None) -> Rendered:
    """Preview what this campaign sends (its frozen copy once sending started, else its
    template with the campaign's subject), lenient like template_preview, in a bounded child."""
    content = dataclasses.replace(campaign_content(campaign), strict=False)
    lists = list(campaign.lists.all())
    (outcome,) = render_for_people_bounded(
        content, [recipient or SampleRecipient()], campaign, lists[0] if len(lists) == 1 else None
    )
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
