"""The sandbox's webhooks: every accepted email's events, signed the Svix way, posted to the
configured URL from background threads, with retries.

An email's events form a chain: the next one is scheduled only when the previous one was
answered 2xx or given up, so the receiver sees them in the planned order (shuffled on purpose
with `webhook_out_of_order`). A failed try is scheduled again after a backoff instead of
sleeping, so one unreachable receiver never holds up other emails' events. Nothing here
touches the email API's answers: a webhook problem is logged and recorded, never raised.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

from queueing.resend.webhook_signing import secret_key, signed_headers
from sandbox.config import SandboxConfig
from sandbox.emails import StoredEmail
from sandbox.webhook_log import WebhookLog
from sandbox.webhook_payloads import event_body, now_iso
from sandbox.webhook_plan import Plan, WebhookPlanner

log = logging.getLogger(__name__)

TIMEOUT = (2.0, 10.0)  # seconds to connect, to answer
THREADS = 4


@dataclass(slots=True)
class _Chain:
    plan: Plan
    generation: int
    index: int = 0  # the step being delivered
    tries: int = 0  # of that step
    entry: dict[str, Any] | None = None  # its log entry, once tried


class WebhookEmitter:
    def __init__(self, seed: int | None = None, threads: int = THREADS) -> None:
        self.planner = WebhookPlanner(seed)
        self.log = WebhookLog()
        self._condition = threading.Condition()
        self._due: list[tuple[float, int, _Chain]] = []  # a heap on the monotonic due time
        self._order = itertools.count()
        self._busy = 0
        self._generation = 0  # bumped by reset(): chains of an older one are dropped
        self._stopping = False
        self._thread_count = threads
        self._threads: list[threading.Thread] = []

    # --- life cycle ---

    def start(self) -> None:
        with self._condition:
            if self._threads:
                return
            self._stopping = False
            self._threads = [
                threading.Thread(target=self._run, name=f"sandbox-webhooks-{i}", daemon=True)
                for i in range(self._thread_count)
            ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop sending; events not sent yet are dropped (the sandbox keeps no outbox)."""
        with self._condition:
            self._stopping = True
            self._due.clear()
            self._condition.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=TIMEOUT[0] + TIMEOUT[1])

    def reset(self) -> None:
        with self._condition:
            self._due.clear()
            self._generation += 1
            self.log.clear()
            self._condition.notify_all()

    # --- scheduling ---

    def emails_accepted(self, emails: Iterable[StoredEmail], config: SandboxConfig) -> None:
        if config.webhook_url is None:
            return
        for email in emails:
            self.schedule(self.planner.plan(email, config))

    def emit(self, email: StoredEmail, config: SandboxConfig, outcome: str | None) -> Plan:
        """Plan `outcome`'s events (or a drawn one) for an email now, on demand."""
        plan = self.planner.plan(email, config, outcome)
        self.schedule(plan)
        return plan

    def schedule(self, plan: Plan) -> None:
        if not plan.steps:
            return
        with self._condition:
            chain = _Chain(plan, self._generation)
            self._push(time.monotonic() + plan.steps[0].delay, chain)

    def pending(self) -> int:
        """Events planned or being tried, not yet delivered or given up (0: idle)."""
        with self._condition:
            waiting = sum(len(c.plan.steps) - c.index for _, _, c in self._due)
            return waiting + self._busy

    # --- the sending threads ---

    def _push(self, due: float, chain: _Chain) -> None:
        heapq.heappush(self._due, (due, next(self._order), chain))
        self._condition.notify()

    def _next(self) -> _Chain | None:
        """The next due chain (waiting for it), or None when stopping. Holds the condition."""
        while not self._stopping:
            if self._due:
                wait = self._due[0][0] - time.monotonic()
                if wait <= 0:
                    chain = heapq.heappop(self._due)[2]
                    if chain.generation == self._generation:
                        return chain
                    continue
                self._condition.wait(wait)
            else:
                self._condition.wait()
        return None

    def _run(self) -> None:
        with requests.Session() as session:
            while True:
                with self._condition:
                    chain = self._next()
                    if chain is None:
                        return
                    busy = len(chain.plan.steps) - chain.index
                    self._busy += busy
                again_at: float | None = None
                try:
                    again_at = self._try(session, chain)
                except Exception:  # a sandbox bug: lose this event, keep the thread
                    log.exception("Webhook delivery failed unexpectedly; event dropped")
                finally:
                    with self._condition:
                        self._busy -= busy
                        alive = not self._stopping and chain.generation == self._generation
                        if again_at is not None and alive:
                            self._push(again_at, chain)
                        self._condition.notify_all()

    def _try(self, session: requests.Session, chain: _Chain) -> float | None:
        """Post the chain's current step once; returns when the chain goes on, or None."""
        plan = chain.plan
        step = plan.steps[chain.index]
        event = step.event
        if event.body is None:
            event.body = event_body(event.email, event.type, event.outcome, now_iso())
        if chain.entry is None:
            chain.entry = self.log.start(
                message_id=event.message_id,
                event_type=event.type,
                email_id=plan.email_id,
                outcome=plan.outcome,
                url=plan.url,
                duplicate=step.duplicate,
                body=event.body,
            )
        headers = signed_headers(
            secret_key(plan.secret), event.message_id, int(time.time()), event.body
        )
        # One connection per try: a kept-alive one would hold a thread of a threaded receiver
        # (Django's runserver and live test server), and its database connection, for as
        # long as the sandbox runs, after a reset too.
        headers.update(
            {
                "Content-Type": "application/json",
                "User-Agent": "Resend-Sandbox/1.0",
                "Connection": "close",
            }
        )
        status: int | None = None
        error: str | None = None
        try:
            answer = session.post(plan.url, data=event.body, headers=headers, timeout=TIMEOUT)
            status = answer.status_code
        except requests.Timeout:
            error = "Timeout: no answer in time"
        except requests.ConnectionError:
            error = "ConnectionError: refused or closed without an answer"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        chain.tries += 1
        ok = status is not None and 200 <= status < 300
        final = ok or chain.tries >= plan.attempts
        self.log.attempt(chain.entry, status=status, error=error, final=final)
        if not ok:
            said = error or f"HTTP {status}"
            if final:
                log.warning(
                    "Webhook %s %s for email %s to %s failed after %d tries (%s); given up",
                    event.type,
                    event.message_id,
                    plan.email_id,
                    plan.url,
                    chain.tries,
                    said,
                )
            else:
                log.debug("Webhook %s to %s failed (%s); will retry", event.type, plan.url, said)
                return time.monotonic() + plan.backoff * 2 ** (chain.tries - 1)
        chain.index += 1
        chain.tries = 0
        chain.entry = None
        if chain.index >= len(plan.steps):
            return None
        return time.monotonic() + plan.steps[chain.index].delay
