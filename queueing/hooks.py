"""What queueing needs to know from the apps above it, registered by those apps.

queueing is the ground layer: it imports neither recipients nor campaigns. Where sending needs
their knowledge, it asks through the hooks below, which those apps fill in from their
`AppConfig.ready()`:

- address filters (recipients): which of these addresses may not receive this kind of mail,
  and why. Every registered filter is asked; a message to any refused address is suppressed.
- the late renderer (campaigns): final content for messages stored with `needs_render`, just
  before their first send (see queueing.rendering). At most one.
- reconcile steps (campaigns): extra work for each reconciler pass (start due campaigns,
  resume stalled fan-outs); each returns counts for the pass's report.
- event listeners (recipients, campaigns): provider events (Resend's webhooks) after queueing
  has applied them to their messages, in batches (`ProviderEvent`).

Status changes are announced the other way, by signal (queueing.signals), inside the
transaction that makes them. Whether a campaign's messages may be claimed is queueing's own
data (HeldCampaign rows, written through queueing.holds), not a hook: the claim is a hot path.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from queueing.models import Message

# What a renderer returns for each message.


@dataclass(frozen=True)
class Rendered:
    """A message's final content, as the campaigns renderer returns it."""

    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderFailed:
    """This one message cannot be rendered (e.g. a missing attribute): it fails alone.
    `over_budget`: it went over (or was set aside because its group went over) the render
    budget, which people look for apart from a plain template error."""

    reason: str
    over_budget: bool = False


@dataclass(frozen=True)
class NotEligible:
    """The recipient may no longer receive this campaign (e.g. left the list): suppressed."""

    reason: str


RenderResult = Rendered | RenderFailed | NotEligible


class AddressFilter(Protocol):
    """addresses as stored on messages, marketing mail or not -> {refused bare address
    (queueing.addresses.bare_address): the reason, for people}"""

    def __call__(self, addresses: set[str], *, marketing: bool) -> Mapping[str, str]: ...


# messages that need rendering -> {message id: Rendered | RenderFailed | NotEligible}
Renderer = Callable[[list[Message]], Mapping[int, RenderResult]]
# one bounded step of a reconciler pass -> {figure name: count}, for the pass's report
ReconcileStep = Callable[[], Mapping[str, int]]

_address_filters: dict[str, AddressFilter] = {}
_renderer: list[Renderer] = []
_reconcile_steps: dict[str, ReconcileStep] = {}


def register_address_filter(name: str, check: AddressFilter) -> None:
    """Register (or replace, by name) a check of who may receive mail."""
    _address_filters[name] = check


def register_renderer(render: Renderer) -> None:
    """Set the one late renderer; registering again replaces it."""
    _renderer[:] = [render]


def register_reconcile_step(name: str, step: ReconcileStep) -> None:
    """Add (or replace, by name) a step every reconciler pass runs after releasing due
    scheduled messages and before recovering leases."""
    _reconcile_steps[name] = step


def refused_addresses(addresses: Iterable[str], *, marketing: bool) -> dict[str, str]:
    """Every registered filter's refusals, merged: {bare address: reasons}."""
    wanted = set(addresses)
    refused: dict[str, str] = {}
    if not wanted:
        return refused
    for check in _address_filters.values():
        for address, reason in check(wanted, marketing=marketing).items():
            refused[address] = f"{refused[address]}; {reason}" if address in refused else reason
    return refused


def renderer() -> Renderer | None:
    return _renderer[0] if _renderer else None


def reconcile_steps() -> list[tuple[str, ReconcileStep]]:
    return list(_reconcile_steps.items())


# The HTTP API's `template: {"id", "variables"}`: campaigns owns templates and renders them.
# -> Rendered, RenderFailed (the template exists but cannot be rendered with these
# variables), or None (no template with that slug or id).
TemplateRenderer = Callable[[str, Mapping[str, object]], Rendered | RenderFailed | None]
_template_renderer: list[TemplateRenderer] = []


def register_template_renderer(render: TemplateRenderer) -> None:
    """Set the one renderer of named templates for the HTTP API; registering again replaces it."""
    _template_renderer[:] = [render]


def template_renderer() -> TemplateRenderer | None:
    return _template_renderer[0] if _template_renderer else None


# --- provider events (Resend's webhooks), announced to the apps above -------------------
# queueing stores every webhook raw, applies it to its message (status by rank, timeline) and
# then tells the registered listeners what happened, in batches, inside the transaction that
# applied them: recipients keeps the suppression list (bounces, complaints), campaigns keeps
# statistics and guard rails, queueing's own forwarding sends them on to API clients. A
# listener must not raise for one odd event (log it); an exception rolls the batch back and
# the raw events stay unprocessed, to be processed again.


@dataclass(frozen=True)
class ProviderEvent:
    """One provider event about one message (or about no known message), as applied."""

    raw_event_id: int  # the stored webhook (queueing's raw event table)
    type: str  # Resend's type, e.g. "email.bounced"; unknown types are passed on too
    # mailhub's word for it: sent, delivered, delivery_delayed, bounced, complained, opened,
    # clicked, failed, suppressed, scheduled; "" for a type mailhub does not know
    kind: str
    occurred_at: datetime  # Resend's `created_at` of the event (else when it was received)
    message_id: int | None  # None: no message found (kept for inspection, still announced)
    campaign_id: int | None = None
    recipient_id: int | None = None
    api_key_id: int | None = None
    is_test: bool = False  # a campaign's test send: never in its statistics
    # The bare, lower-case addresses the event names (`data.to`); for a bounce, the ones that
    # bounced where Resend says (else all of `data.to`).
    addresses: tuple[str, ...] = ()
    bounce_type: str = ""  # Permanent, Transient or Undetermined (Resend's words)
    bounce_subtype: str = ""
    diagnostic: str = ""  # the receiving server's words, for people
    link: str = ""  # for clicked: the URL
    # The kinds of provider event this message had before this one (so a listener can count a
    # message once per kind: `kind not in kinds_before`, and count an early `opened` as
    # delivered too). Empty for an event without a message.
    kinds_before: frozenset[str] = frozenset()
    # The message's status after this event, and whether this event changed it (a late or
    # out-of-order event is recorded but moves nothing).
    status: str = ""
    status_changed: bool = False
    data: Mapping[str, object] = field(default_factory=dict)  # the raw `data` object

    @property
    def first_of_kind(self) -> bool:
        return bool(self.kind) and self.kind not in self.kinds_before


EventListener = Callable[[list[ProviderEvent]], None]
_event_listeners: dict[str, EventListener] = {}


def register_event_listener(name: str, listener: EventListener) -> None:
    """Listen to applied provider events, in batches (registering a name again replaces it)."""
    _event_listeners[name] = listener


def event_listeners() -> list[tuple[str, EventListener]]:
    return list(_event_listeners.items())


# --- campaign names for the admin's message filter ---------------------------------------
# Message.campaign is a string foreign key queueing never follows: the campaigns app says
# which campaigns to offer in the messages list's filter. -> [(id, name)], newest first, at
# most `limit`.
CampaignNames = Callable[[int], list[tuple[int, str]]]
_campaign_names: list[CampaignNames] = []


def register_campaign_names(names: CampaignNames) -> None:
    """Set the one source of campaign names; registering again replaces it."""
    _campaign_names[:] = [names]


def campaign_names(limit: int) -> list[tuple[int, str]]:
    """The newest campaigns as (id, name); [] when no app registered a source."""
    return list(_campaign_names[0](limit)) if _campaign_names else []
