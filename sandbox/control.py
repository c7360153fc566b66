"""The sandbox's own endpoints under /_sandbox/: inspect and steer it. No auth, no faults, not
counted as API requests, so tests and benchmarks can look without changing what they measure.
`/_sandbox/answers` asks for any of Resend's error answers on demand (sandbox.scripted);
`/_sandbox/webhooks` shows the webhooks posted and their answers, and emits an email's events
on demand (sandbox.webhooks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from queueing.resend import errors
from sandbox.config import SandboxConfig
from sandbox.refusal import Refused
from sandbox.scripted import ScriptedAnswers
from sandbox.state import SandboxState
from sandbox.webhook_payloads import OUTCOMES
from sandbox.webhooks import WebhookEmitter
from sandbox.wire import Request, Response, json_response, parse_json, refused_response

PREFIX = "/_sandbox"


class ControlApi:
    def __init__(
        self,
        *,
        state: SandboxState,
        config: Callable[[], SandboxConfig],
        configure: Callable[[Mapping[str, Any]], SandboxConfig],
        scripted: ScriptedAnswers | None = None,
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._state = state
        self._config = config
        self._configure = configure
        self._scripted = scripted or ScriptedAnswers()
        self._webhooks = webhooks or WebhookEmitter()

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except Refused as refused:
            return refused_response(refused)

    def _handle(self, request: Request) -> Response:
        path, method = request.path.removeprefix(PREFIX), request.method
        if path.startswith("/emails/") and method == "GET":
            email = self._state.get(path.removeprefix("/emails/"))
            if email is None:
                raise Refused(errors.not_found("Email not found."))
            return json_response(200, email.as_record())
        routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/health"): lambda _: json_response(200, {"ok": True}),
            ("GET", "/emails"): self._emails,
            ("GET", "/requests"): lambda _: json_response(200, {"data": self._state.requests()}),
            ("GET", "/stats"): lambda _: json_response(200, self._state.stats()),
            ("POST", "/reset"): self._reset,
            ("GET", "/config"): lambda _: json_response(200, self._config().to_dict()),
            ("POST", "/config"): self._set_config,
            ("GET", "/answers"): lambda _: json_response(200, {"data": self._scripted.list()}),
            ("POST", "/answers"): self._add_answer,
            ("DELETE", "/answers"): self._clear_answers,
            ("GET", "/webhooks"): self._webhook_log,
            ("POST", "/webhooks"): self._emit_webhooks,
        }
        handler = routes.get((method, path))
        if handler is not None:
            return handler(request)
        if any(route_path == path for _, route_path in routes):
            raise Refused(errors.method_not_allowed())
        raise Refused(errors.not_found())

    def _emails(self, request: Request) -> Response:
        found = self._state.emails(to=request.query_value("to"), tag=request.query_value("tag"))
        return json_response(200, {"data": found})

    def _reset(self, _: Request) -> Response:
        self._state.reset()
        self._scripted.clear()
        self._webhooks.reset()
        self._configure({})  # re-seeds the fault generator: a reset run replays the same faults
        return json_response(200, {"ok": True})

    def _add_answer(self, request: Request) -> Response:
        spec = parse_json(request.body or b"{}")
        if not isinstance(spec, dict):
            raise Refused(errors.validation_error("The answer must be a JSON object.", status=400))
        try:
            rule = self._scripted.add(spec)
        except ValueError as exc:
            raise Refused(errors.validation_error(str(exc), status=400)) from None
        return json_response(200, {"id": rule.id, "name": rule.name, "status": rule.status})

    def _clear_answers(self, _: Request) -> Response:
        self._scripted.clear()
        return json_response(200, {"ok": True})

    def _webhook_log(self, request: Request) -> Response:
        entries = self._webhooks.log.entries(
            email_id=request.query_value("email_id"), event_type=request.query_value("type")
        )
        return json_response(200, {"data": entries, "pending": self._webhooks.pending()})

    def _emit_webhooks(self, request: Request) -> Response:
        """{"email_id": ..., "outcome": ...}: that email's events now (outcome omitted: drawn)."""
        spec = parse_json(request.body or b"{}")
        if not isinstance(spec, dict) or not isinstance(spec.get("email_id"), str):
            raise Refused(_bad("The body must be a JSON object with an `email_id` string."))
        outcome = spec.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise Refused(_bad(f"Unknown outcome {outcome!r}; known: {', '.join(OUTCOMES)}."))
        config = self._config()
        if config.webhook_url is None:
            raise Refused(_bad("No webhook_url is configured; set one with POST /_sandbox/config."))
        email = self._state.get(spec["email_id"])
        if email is None:
            raise Refused(errors.not_found("Email not found."))
        plan = self._webhooks.emit(email, config, outcome)
        events = [step.event.type for step in plan.steps]
        return json_response(200, {"email_id": email.id, "outcome": plan.outcome, "events": events})

    def _set_config(self, request: Request) -> Response:
        changes = parse_json(request.body or b"{}")
        if not isinstance(changes, dict):
            raise Refused(errors.validation_error("The config must be a JSON object.", status=400))
        try:
            config = self._configure(changes)
        except ValueError as exc:
            raise Refused(errors.validation_error(str(exc), status=400)) from None
        return json_response(200, config.to_dict())


def _bad(message: str) -> errors.ResendError:
    return errors.validation_error(message, status=400)
