"""Deciding, per accepted email, what its webhooks will say and when: the outcome (drawn from
the configured mix, or forced by one of Resend's test addresses), the delays, duplicates and
shuffling.

Every email draws the same number of random numbers from one seeded generator, whatever the
mix, so a seed gives the same outcomes for the same emails in the same order.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from queueing.resend.rules import address_of
from queueing.resend.webhook_signing import new_message_id
from sandbox.config import SandboxConfig
from sandbox.emails import StoredEmail, addresses
from sandbox.webhook_payloads import chain_for

# Resend's test addresses (local part, optionally with a +label, at resend.dev) decide the
# outcome whatever the mix, as they do at Resend.
TEST_DOMAIN = "resend.dev"
TEST_ADDRESSES = {
    "delivered": "delivered",
    "bounced": "bounced_permanent",
    "complained": "complained",
    "suppressed": "suppressed",
}


@dataclass(slots=True)
class WebhookEvent:
    """One event; a duplicate is the same object delivered again (same svix-id and body)."""

    type: str
    outcome: str
    email: StoredEmail
    message_id: str = field(default_factory=new_message_id)
    body: bytes | None = None  # built when it is first sent, so created_at is that moment


@dataclass(slots=True)
class Step:
    event: WebhookEvent
    delay: float  # seconds to wait after the previous step (or the acceptance) finished
    duplicate: bool = False


@dataclass(slots=True)
class Plan:
    email_id: str
    outcome: str
    steps: list[Step]
    url: str
    secret: str
    attempts: int
    backoff: float
    shuffled: bool = False


class WebhookPlanner:
    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._random = random.Random(seed)

    def plan(self, email: StoredEmail, config: SandboxConfig, outcome: str | None = None) -> Plan:
        """The events of `email`; `outcome` None draws one (a test address still wins)."""
        assert config.webhook_url is not None and config.webhook_secret is not None
        chain_draws = 8  # the longest chain has 4 events: one draw each for delay, duplicate
        with self._lock:
            pick = self._random.random()
            shuffle_draw = self._random.random()
            draws = [self._random.random() for _ in range(chain_draws)]
            shuffle_seed = self._random.getrandbits(32)
        chosen = outcome or _forced_outcome(email) or _weighted(config.webhook_mix, pick)
        events = [WebhookEvent(kind, chosen, email) for kind in chain_for(chosen, email)]
        shuffled = len(events) > 1 and shuffle_draw < config.webhook_out_of_order
        if shuffled:
            random.Random(shuffle_seed).shuffle(events)
        low, high = config.webhook_delay_min, config.webhook_delay_max
        steps: list[Step] = []
        for index, event in enumerate(events):
            delay_draw, duplicate_draw = draws[2 * index], draws[2 * index + 1]
            steps.append(Step(event, low + (high - low) * delay_draw))
            if duplicate_draw < config.webhook_duplicates:
                steps.append(Step(event, low + (high - low) * delay_draw, duplicate=True))
        return Plan(
            email_id=email.id,
            outcome=chosen,
            steps=steps,
            url=config.webhook_url,
            secret=config.webhook_secret,
            attempts=config.webhook_attempts,
            backoff=config.webhook_backoff,
            shuffled=shuffled,
        )


def _weighted(mix: dict[str, float], draw: float) -> str:
    total = sum(mix.values())
    point = draw * total
    for name, weight in mix.items():
        if point < weight:
            return name
        point -= weight
    return next(name for name, weight in reversed(mix.items()) if weight > 0)


def _forced_outcome(email: StoredEmail) -> str | None:
    for recipient in addresses(email.request.get("to")):
        bare = (address_of(recipient) or recipient).lower()
        local, _, domain = bare.rpartition("@")
        if domain == TEST_DOMAIN:
            forced = TEST_ADDRESSES.get(local.partition("+")[0])
            if forced is not None:
                return forced
    return None
