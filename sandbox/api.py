"""Resend's email endpoints, as the sandbox serves them (one concern: the request pipeline).

Every request goes through the same steps, in this order:
route (404/405) → auth (401/403) → rate limit (429) → Idempotency-Key syntax (400) →
injected 500/429 → an answer asked for on demand (sandbox.scripted) → idempotency claim (409
or replay) → injected slowness → the operation (validation, then a sender whose domain is
configured unverified: 403) → remember a 2xx answer under its key → injected drop (the answer
is never written). Accepted emails are handed to the webhooks (sandbox.webhooks), which post
their events later, from their own threads.
Resend's rules (fields, error names and bodies, Idempotency-Key) are mailhub's shared ones in
`queueing.resend`; this module applies them in Resend's order.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from queueing.resend import errors, idempotency, rules
from queueing.resend.errors import ResendError
from queueing.resend.idempotency import KeyState
from sandbox import stats
from sandbox.config import SandboxConfig
from sandbox.emails import StoredEmail
from sandbox.faults import FaultInjector
from sandbox.idempotency_cache import StoredAnswer
from sandbox.recorder import Recorder
from sandbox.refusal import Refused, rate_limited, refuse_if, sandbox_failure
from sandbox.scripted import ScriptedAnswers, email_domain
from sandbox.state import SandboxState
from sandbox.webhooks import WebhookEmitter
from sandbox.wire import (
    Request,
    Response,
    error_response,
    json_response,
    parse_json,
    refused_response,
)

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"/emails/([^/]+)")
_CANCEL = re.compile(r"/emails/([^/]+)/cancel")
_IDEMPOTENT_OPS = ("send", "batch")


@dataclass(frozen=True, slots=True)
class _Route:
    op: str  # send, batch, get, update, cancel
    email_id: str | None = None


@dataclass(slots=True)
class _Trace:
    """What the request log says about one request; filled in as it is handled."""

    outcome: str = stats.REJECTED
    idempotency_key: str | None = None
    emails_in_request: int = 0
    slow: bool = False


def _route(method: str, path: str) -> _Route:
    if path == "/emails":
        op = "send" if method == "POST" else None
        email_id = None
    elif path == "/emails/batch":
        op = "batch" if method == "POST" else None
        email_id = None
    elif match := _CANCEL.fullmatch(path):
        op = "cancel" if method == "POST" else None
        email_id = match.group(1)
    elif match := _EMAIL.fullmatch(path):
        op = {"GET": "get", "PATCH": "update"}.get(method)
        email_id = match.group(1)
    else:
        raise Refused(errors.not_found())
    if op is None:
        raise Refused(errors.method_not_allowed())
    return _Route(op, email_id)


def _check_auth(authorization: str | None, api_key: str | None) -> None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Refused(errors.missing_api_key())
    if api_key is not None and not hmac.compare_digest(token.encode(), api_key.encode()):
        raise Refused(errors.invalid_api_key())


class ResendApi:
    def __init__(
        self,
        *,
        config: Callable[[], SandboxConfig],
        state: SandboxState,
        faults: FaultInjector,
        recorder: Recorder,
        scripted: ScriptedAnswers | None = None,
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._config = config
        self._state = state
        self._faults = faults
        self._recorder = recorder
        self._scripted = scripted or ScriptedAnswers()
        self._webhooks = webhooks or WebhookEmitter()

    def handle(self, request: Request) -> Response:
        arrived_at = self._state.arrive()
        started = time.perf_counter()
        trace = _Trace()
        try:
            response = self._handle(request, self._config(), trace)
        except Exception:  # a sandbox bug must still give the client an answer
            log.exception("Resend sandbox failed on %s %s", request.method, request.path)
            trace.outcome = stats.ERROR
            response = error_response(sandbox_failure())
        self._state.log(
            {
                "time": arrived_at,
                "method": request.method,
                "path": request.path,
                "status": None if response.drop else response.status,
                "outcome": trace.outcome,
                "idempotency_key": trace.idempotency_key,
                "emails_in_request": trace.emails_in_request,
                "slow": trace.slow,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )
        return response

    def _handle(self, request: Request, config: SandboxConfig, trace: _Trace) -> Response:
        try:
            route = _route(request.method, request.path)
            _check_auth(request.header("Authorization"), config.api_key)
        except Refused as refused:
            return refused_response(refused, self._state.peek_rate(config.rate_limit).headers())

        decision = self._state.admit(config.rate_limit)
        rate_headers = decision.headers()
        if not decision.allowed:
            trace.outcome = stats.RATE_LIMITED
            return refused_response(rate_limited(decision.retry_after), rate_headers)

        key = request.header("Idempotency-Key") if route.op in _IDEMPOTENT_OPS else None
        trace.idempotency_key = key
        key_error = idempotency.key_error(key)
        if key_error is not None:
            return error_response(key_error, rate_headers)

        plan = self._faults.plan(config)
        if plan.fail:
            trace.outcome = stats.FAULT_500
            return error_response(errors.internal_server_error(), rate_headers)
        if plan.throttle:
            trace.outcome = stats.FAULT_429
            headers = {**rate_headers, "ratelimit-remaining": "0"}
            return refused_response(rate_limited(1), headers)

        if route.op in _IDEMPOTENT_OPS:
            scripted = self._scripted.take(route.op, request.body)
            if scripted is not None:
                trace.outcome = stats.SCRIPTED
                return refused_response(_scripted_refusal(scripted), rate_headers)

        if key is not None:
            fingerprint = idempotency.fingerprint(request.method, request.path, request.body_sha256)
            claim = self._state.claim_key(key, fingerprint)
            conflict = idempotency.conflict_error(claim.state)
            if conflict is not None:
                return error_response(conflict, rate_headers)
            if claim.state is KeyState.REPLAY and claim.answer is not None:
                trace.outcome = stats.REPLAYED
                response = Response(claim.answer.status, claim.answer.body, dict(rate_headers))
                return self._maybe_drop(response, plan.drop, trace)

        response = self._process(route, request, config, trace, key, plan.slow)
        response.headers.update(rate_headers)
        return self._maybe_drop(response, plan.drop, trace)

    def _process(
        self,
        route: _Route,
        request: Request,
        config: SandboxConfig,
        trace: _Trace,
        key: str | None,
        slow: bool,
    ) -> Response:
        """Run the operation while holding the idempotency key (if any)."""
        response: Response | None = None
        try:
            if slow:
                trace.slow = True
                time.sleep(config.slow_seconds)
            response = self._operate(route, request, config, trace)
        except Refused as refused:
            if refused.error.name == errors.DAILY_QUOTA_EXCEEDED:
                trace.outcome = stats.QUOTA_EXCEEDED
            response = refused_response(refused)
        finally:
            if key is not None:
                # Only a success is remembered; after an error the same key may succeed later.
                if response is not None and idempotency.remembers(response.status):
                    self._state.complete_key(key, StoredAnswer(response.status, response.body))
                else:
                    self._state.release_key(key)
        assert response is not None  # set by the try or the except; anything else propagated
        return response

    @staticmethod
    def _maybe_drop(response: Response, drop: bool, trace: _Trace) -> Response:
        # The work is done (and a success remembered under its key); only the answer is lost.
        if drop:
            trace.outcome = stats.DROPPED
            response.drop = True
        return response

    def _operate(
        self, route: _Route, request: Request, config: SandboxConfig, trace: _Trace
    ) -> Response:
        if route.op == "send":
            return self._send(request, config, trace)
        if route.op == "batch":
            return self._batch(request, config, trace)
        assert route.email_id is not None
        if route.op == "get":
            email = self._state.get(route.email_id)
            if email is None:
                raise Refused(errors.not_found("Email not found."))
            trace.outcome = stats.OK
            return json_response(200, email.as_resend())
        if route.op == "update":
            payload = parse_json(request.body or b"{}")
            refuse_if(rules.update_error(payload, route.email_id))
            email = self._state.reschedule(route.email_id, payload["scheduled_at"])
        else:
            email = self._state.cancel(route.email_id)
        trace.outcome = stats.OK
        return json_response(200, {"object": "email", "id": email.id})

    def _send(self, request: Request, config: SandboxConfig, trace: _Trace) -> Response:
        payload = parse_json(request.body)
        trace.emails_in_request = 1
        refuse_if(_email_error(payload, in_batch=False, validate=config.validate))
        _refuse_unverified([payload], config)
        factory = _EmailFactory(request, trace.idempotency_key)
        email = factory.make(payload, via="single", batch_index=None)
        self._store([email], config, trace)
        return json_response(200, {"id": email.id})

    def _batch(self, request: Request, config: SandboxConfig, trace: _Trace) -> Response:
        mode = rules.batch_mode(request.header(rules.BATCH_VALIDATION_HEADER))
        if mode is None:
            raise Refused(rules.invalid_batch_mode())
        items = parse_json(request.body)
        refuse_if(rules.batch_error(items))
        trace.emails_in_request = len(items)
        failures: list[tuple[int, ResendError]] = []
        for index, item in enumerate(items):
            error = _email_error(item, in_batch=True, validate=config.validate)
            if error is None:
                continue
            if mode == "strict":
                raise Refused(rules.batch_item_error(index, error))
            failures.append((index, error))
        # A refused sender is the account's problem, not an email's: the whole batch, in
        # either mode (the caller sends each alone to learn which).
        _refuse_unverified(items, config)
        failed = {index for index, _ in failures}
        factory = _EmailFactory(request, trace.idempotency_key)
        emails = [
            factory.make(item, via="batch", batch_index=index)
            for index, item in enumerate(items)
            if index not in failed
        ]
        self._store(emails, config, trace)
        body: dict[str, Any] = {"data": [{"id": email.id} for email in emails]}
        if mode == "permissive":
            body["errors"] = [{"index": i, "message": error.message} for i, error in failures]
        return json_response(200, body)

    def _store(self, emails: list[StoredEmail], config: SandboxConfig, trace: _Trace) -> None:
        self._state.accept(emails, config.daily_quota)
        self._recorder.write(emails)
        self._webhooks.emails_accepted(emails, config)
        trace.outcome = stats.ACCEPTED


class _EmailFactory:
    """Builds the stored emails of one request; they share its time, key and body hash."""

    def __init__(self, request: Request, idempotency_key: str | None) -> None:
        self._now = time.time()
        self._created_at = datetime.fromtimestamp(self._now, UTC).isoformat()
        self._key = idempotency_key
        self._sha = request.body_sha256

    def make(self, item: Any, *, via: str, batch_index: int | None) -> StoredEmail:
        scheduled_at = item.get("scheduled_at") if isinstance(item, dict) else None
        if not isinstance(scheduled_at, str):
            scheduled_at = None
        return StoredEmail(
            id=str(uuid.uuid4()),
            created_at=self._created_at,
            accepted_at=self._now,
            request=item,
            via=via,
            batch_index=batch_index,
            idempotency_key=self._key,
            raw_body_sha256=self._sha,
            last_event="scheduled" if scheduled_at else "delivered",
            scheduled_at=scheduled_at,
        )


def _refuse_unverified(emails: list[Any], config: SandboxConfig) -> None:
    """403 validation_error, as Resend answers a `from` on a domain the account has not
    verified (config `unverified_domains`)."""
    if not config.unverified_domains:
        return
    for email in emails:
        domain = email_domain(email) if isinstance(email, dict) else None
        if domain is not None and domain in config.unverified_domains:
            raise Refused(errors.unverified_domain(domain))


def _scripted_refusal(error: ResendError) -> Refused:
    """A 429 rate limit asked for on demand carries retry-after, as Resend's does."""
    if error.name == errors.RATE_LIMIT_EXCEEDED:
        return Refused(error, {"retry-after": "1"})
    return Refused(error)


def _email_error(item: Any, *, in_batch: bool, validate: bool) -> ResendError | None:
    """Resend's rules, or only the JSON-object shape with config validate=False."""
    if validate:
        return rules.email_error(item, in_batch=in_batch)
    return rules.email_shape_error(item)
