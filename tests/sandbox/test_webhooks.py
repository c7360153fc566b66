"""The sandbox's webhooks: Resend's events for every accepted email, signed the Svix way, posted
to a local receiver; checked with two independent verifiers (the `svix` package and
`resend.Webhooks.verify`)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import resend
from django.core.management import CommandError, call_command
from svix.webhooks import Webhook, WebhookVerificationError

from mailhub.management.commands.resend_sandbox import Command
from queueing.resend.webhook_signing import new_secret as generate_secret
from sandbox import SandboxConfig, SandboxControl, SandboxServer
from sandbox.testing import TEST_API_KEY, running_sandbox, sample_email
from sandbox.webhook_payloads import CHAINS, OUTCOMES, first_link

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
SECRET = generate_secret()
LINK = "https://shop.example.com/spring?utm=mail"
HTML = f'<p>Hi</p><a href="mailto:help@example.com">help</a><a href="{LINK}">Shop</a>'
TAGS = [{"name": "mailhub_message", "value": "5b0d"}, {"name": "campaign", "value": "7"}]


class Receiver:
    """A local webhook endpoint: records every POST, answers with the scripted statuses first
    (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/resend"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.httpd.shutdown()
    receiver.httpd.server_close()


@pytest.fixture
def ctl(server: SandboxServer) -> Iterator[SandboxControl]:
    control = SandboxControl(server.url)
    yield control
    control.close()


def hooked(server: SandboxServer, receiver: Receiver, **config: Any) -> None:
    """Point the sandbox's webhooks at the receiver, with fast retries."""
    server.configure(
        webhook_url=receiver.url, webhook_secret=SECRET, webhook_backoff=0.01, **config
    )


def send(server: SandboxServer, **overrides: Any) -> str:
    email = sample_email(**{"html": HTML, "tags": TAGS, **overrides})
    response = requests.post(f"{server.url}/emails", json=email, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def types_of(payloads: list[dict[str, Any]], email_id: str) -> list[str]:
    return [p["type"] for p in payloads if p["data"]["email_id"] == email_id]


# --- signatures ---


def test_every_event_verifies_with_svix_and_with_resend(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_mix=dict.fromkeys(OUTCOMES, 1), seed=3)
    ids = [send(server) for _ in range(12)]
    ctl.wait_for_webhooks()

    assert receiver.received
    svix_verifier = Webhook(SECRET)
    for headers, body in receiver.received:
        assert headers["svix-id"].startswith("msg_")
        assert headers["svix-signature"].startswith("v1,")
        assert headers["Content-Type"] == "application/json"
        svix_verifier.verify(body, headers)  # raises WebhookVerificationError if wrong
        by_resend = resend.Webhooks.verify(
            {
                "payload": body.decode(),
                "headers": {
                    "id": headers["svix-id"],
                    "timestamp": headers["svix-timestamp"],
                    "signature": headers["svix-signature"],
                },
                "webhook_secret": SECRET,
            }
        )
        assert by_resend == json.loads(body)
        assert by_resend["data"]["email_id"] in ids


def test_a_tampered_body_or_another_secret_does_not_verify(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver)
    send(server)
    ctl.wait_for_webhooks(count=2)
    headers, body = receiver.received[0]
    Webhook(SECRET).verify(body, headers)  # the untouched one does
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"email.", b"Email."), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)


def test_a_secret_is_generated_when_none_is_given(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    config = ctl.configure(webhook_url=receiver.url)
    secret = config["webhook_secret"]
    assert secret.startswith("whsec_")
    assert ctl.configure(webhook_mix={"opened": 1})["webhook_secret"] == secret  # kept
    send(server)
    ctl.wait_for_webhooks(count=3)
    for headers, body in receiver.received:
        Webhook(secret).verify(body, headers)


# --- what each outcome sends ---


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_each_outcome_sends_its_chain_in_resends_shape(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl, outcome: str
) -> None:
    hooked(server, receiver, webhook_mix={outcome: 1})
    email_id = send(server, to=["Ada <ada@example.com>", "bob@example.com"], subject="Spring")
    ctl.wait_for_webhooks()

    payloads = receiver.payloads()
    assert [p["type"] for p in payloads] == list(CHAINS[outcome])
    for payload in payloads:
        assert payload["created_at"].endswith("Z")
        data = payload["data"]
        assert data["email_id"] == email_id
        assert data["from"] == "Acme <news@acme.example.com>"
        assert data["subject"] == "Spring"
        assert data["tags"] == {"mailhub_message": "5b0d", "campaign": "7"}
        assert data["created_at"] == ctl.email(email_id)["created_at"]
        one = payload["type"] in ("email.bounced", "email.complained")
        expected_to = (
            ["Ada <ada@example.com>"] if one else ["Ada <ada@example.com>", "bob@example.com"]
        )
        assert data["to"] == expected_to
    last = payloads[-1]["data"]
    if outcome.startswith("bounced_"):
        bounce = last["bounce"]
        assert bounce["type"] == outcome.removeprefix("bounced_").capitalize()
        assert bounce["subType"] and bounce["message"] and bounce["diagnosticCode"]
    if outcome == "clicked":
        assert last["click"]["link"] == LINK
        assert set(last["click"]) == {"link", "ipAddress", "timestamp", "userAgent"}
    if outcome == "failed":
        assert last["failed"] == {"reason": "reached_daily_quota"}
    if outcome == "suppressed":
        assert last["suppressed"]["reason"] == "previous_bounce"
    entries = ctl.webhooks(email_id=email_id)["data"]
    assert [e["state"] for e in entries] == ["delivered"] * len(payloads)
    assert {e["outcome"] for e in entries} == {outcome}


def test_a_click_needs_a_link_so_an_email_without_one_stops_at_opened(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_mix={"clicked": 1})
    email_id = send(server, html='<p>No links, only <a href="#top">an anchor</a></p>')
    ctl.wait_for_webhooks()
    assert types_of(receiver.payloads(), email_id) == list(CHAINS["opened"])


@pytest.mark.parametrize(
    ("html", "link"),
    [
        # MJML's head links its web fonts first: a reader cannot click a stylesheet.
        (
            '<head><link href="https://fonts.googleapis.com/css?family=Ubuntu" rel="stylesheet">'
            '</head><body><a class="b" href="https://shop.example.com/?a=1&amp;b=2">Shop</a>',
            "https://shop.example.com/?a=1&b=2",
        ),
        ("<A target=\"_blank\" HREF='http://example.com/x'>x</A>", "http://example.com/x"),
        ('<link href="https://fonts.example.com/f.css"><p>no anchor</p>', None),
    ],
)
def test_the_clicked_link_is_the_first_anchor(html: str, link: str | None) -> None:
    assert first_link(html) == link


def test_a_scheduled_email_only_says_it_is_scheduled(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_mix={"clicked": 1})
    email_id = send(server, scheduled_at="2099-01-01T09:00:00Z")
    ctl.wait_for_webhooks()
    assert types_of(receiver.payloads(), email_id) == ["email.scheduled"]


def test_resends_test_addresses_decide_the_outcome(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_mix={"opened": 1})
    bounced = send(server, to=["bounced+tuesday@resend.dev"])
    complained = send(server, to=["complained@resend.dev"])
    plain = send(server, to=["ada@example.com"])
    ctl.wait_for_webhooks()
    payloads = receiver.payloads()
    assert types_of(payloads, bounced) == ["email.sent", "email.bounced"]
    assert types_of(payloads, complained)[-1] == "email.complained"
    assert types_of(payloads, plain)[-1] == "email.opened"


def test_every_email_of_a_batch_gets_its_events(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver)
    answer = requests.post(
        f"{server.url}/emails/batch",
        json=[sample_email(to=f"u{i}@example.com") for i in range(5)],
        headers=AUTH,
    )
    ids = [item["id"] for item in answer.json()["data"]]
    ctl.wait_for_webhooks()
    payloads = receiver.payloads()
    for email_id in ids:
        assert types_of(payloads, email_id) == ["email.sent", "email.delivered"]


# --- the mix, duplicates, order ---

MIX = {"delivered": 4, "opened": 3, "clicked": 1, "bounced_permanent": 1, "complained": 1}


def outcomes_of_a_run(server: SandboxServer, ctl: SandboxControl, emails: int) -> list[str]:
    ids = [send(server) for _ in range(emails)]
    entries = ctl.wait_for_webhooks()
    outcome = {e["email_id"]: e["outcome"] for e in entries}
    return [outcome[email_id] for email_id in ids]


def test_the_mix_gives_the_same_outcomes_for_the_same_seed(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_mix=MIX, seed=42)
    first = outcomes_of_a_run(server, ctl, 40)
    ctl.reset()  # restarts the generator from the seed
    second = outcomes_of_a_run(server, ctl, 40)

    assert first == second
    counts = Counter(first)
    assert set(counts) == set(MIX)  # every kind came up
    assert counts["delivered"] > counts["complained"]
    ctl.reset()
    server.configure(seed=43)
    assert outcomes_of_a_run(server, ctl, 40) != first


def test_duplicates_on_demand_repeat_the_same_event(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_mix={"opened": 1}, webhook_duplicates=1)
    email_id = send(server)
    entries = ctl.wait_for_webhooks()
    assert len(receiver.received) == 6
    ids = [headers["svix-id"] for headers, _ in receiver.received]
    bodies = [body for _, body in receiver.received]
    assert ids[0::2] == ids[1::2] and len(set(ids)) == 3  # each id twice, in a row
    assert bodies[0::2] == bodies[1::2]
    assert types_of(receiver.payloads(), email_id) == [
        "email.sent",
        "email.sent",
        "email.delivered",
        "email.delivered",
        "email.opened",
        "email.opened",
    ]
    assert [e["duplicate"] for e in entries] == [False, True] * 3


def test_without_duplicates_every_event_has_its_own_id(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_mix={"clicked": 1})
    for _ in range(5):
        send(server)
    ctl.wait_for_webhooks()
    ids = [headers["svix-id"] for headers, _ in receiver.received]
    assert len(ids) == 20 and len(set(ids)) == 20


def test_out_of_order_on_demand_shuffles_an_emails_events(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    chain = list(CHAINS["clicked"])
    hooked(server, receiver, webhook_mix={"clicked": 1}, webhook_out_of_order=1, seed=5)
    ids = [send(server) for _ in range(8)]
    ctl.wait_for_webhooks()
    orders = [types_of(receiver.payloads(), email_id) for email_id in ids]
    assert all(sorted(order) == sorted(chain) for order in orders)  # nothing lost or added
    assert any(order != chain for order in orders)


def test_in_order_without_it(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    chain = list(CHAINS["clicked"])
    hooked(server, receiver, webhook_mix={"clicked": 1}, webhook_delay_max=0.02)
    ids = [send(server) for _ in range(8)]
    ctl.wait_for_webhooks()
    assert all(types_of(receiver.payloads(), email_id) == chain for email_id in ids)


# --- retries and failures ---


def test_a_500_is_retried_and_the_emails_next_events_wait_for_it(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    receiver.statuses = [500, 503]
    hooked(server, receiver)
    email_id = send(server)
    entries = ctl.wait_for_webhooks()

    ids = [headers["svix-id"] for headers, _ in receiver.received]
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert types_of(receiver.payloads(), email_id) == [
        "email.sent",
        "email.sent",
        "email.sent",
        "email.delivered",
    ]
    first = entries[0]
    assert first["state"] == "delivered"
    assert [a["status"] for a in first["attempts"]] == [500, 503, 200]
    for headers, body in receiver.received:  # every try signed anew, and valid
        Webhook(SECRET).verify(body, headers)


def test_a_receiver_that_always_fails_is_given_up_and_logged(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl, caplog
) -> None:
    receiver.statuses = [404] * 100
    hooked(server, receiver, webhook_attempts=3)
    with caplog.at_level(logging.WARNING, logger="sandbox.webhooks"):
        email_id = send(server)
        entries = ctl.wait_for_webhooks()
    assert [e["state"] for e in entries] == ["failed", "failed"]  # each event tried, given up
    assert [a["status"] for a in entries[0]["attempts"]] == [404, 404, 404]
    assert len(receiver.received) == 6
    gave_up = [r for r in caplog.records if "given up" in r.getMessage()]
    assert len(gave_up) == 2 and email_id in gave_up[0].getMessage()
    assert ctl.emails()[0]["id"] == email_id  # the send itself was not affected


def test_an_unreachable_receiver_is_recorded_with_the_error(
    server: SandboxServer, ctl: SandboxControl
) -> None:
    server.configure(
        webhook_url="http://127.0.0.1:9/webhooks",
        webhook_attempts=2,
        webhook_backoff=0.01,
        webhook_mix={"sent": 1},
    )
    send(server)
    (entry,) = ctl.wait_for_webhooks()
    assert entry["state"] == "failed"
    assert [a["status"] for a in entry["attempts"]] == [None, None]
    assert "ConnectionError" in entry["attempts"][0]["error"]


def test_no_url_no_webhooks(server: SandboxServer, ctl: SandboxControl) -> None:
    send(server)
    assert ctl.webhooks() == {"data": [], "pending": 0}


def test_reset_forgets_the_log_and_drops_what_was_pending(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_delay_min=30, webhook_delay_max=30)
    send(server)
    assert ctl.webhooks()["pending"] == 2
    ctl.reset()
    assert ctl.webhooks() == {"data": [], "pending": 0}


# --- on demand, and bad configuration ---


def test_an_emails_events_can_be_emitted_on_demand(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    hooked(server, receiver, webhook_mix={"sent": 1})
    email_id = send(server)
    ctl.wait_for_webhooks()
    answer = ctl.emit_webhooks(email_id, "bounced_transient")
    assert answer == {
        "email_id": email_id,
        "outcome": "bounced_transient",
        "events": ["email.sent", "email.bounced"],
    }
    ctl.wait_for_webhooks()
    assert receiver.payloads()[-1]["data"]["bounce"]["type"] == "Transient"


def test_emitting_needs_a_url_a_known_outcome_and_a_known_email(
    server: SandboxServer, receiver: Receiver, ctl: SandboxControl
) -> None:
    email_id = send(server)
    with pytest.raises(ValueError, match="No webhook_url is configured"):
        ctl.emit_webhooks(email_id, "delivered")
    hooked(server, receiver)
    with pytest.raises(ValueError, match="Unknown outcome 'lost'"):
        ctl.emit_webhooks(email_id, "lost")
    with pytest.raises(Exception, match="404"):
        ctl.emit_webhooks("no-such-email", "delivered")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"webhook_url": "ftp://example.com/x"}, "webhook_url must be an http(s) URL"),
        ({"webhook_secret": "secret"}, "webhook_secret must start with 'whsec_'"),
        ({"webhook_secret": "whsec_!!!"}, "followed by base64"),
        ({"webhook_mix": {"lost": 1}}, "unknown outcome(s) lost"),
        ({"webhook_mix": {"delivered": 0}}, "at least one weight above 0"),
        ({"webhook_mix": {"delivered": -1}}, "webhook_mix[delivered] must be a finite number"),
        ({"webhook_duplicates": 1.5}, "webhook_duplicates must be between 0 and 1"),
        ({"webhook_out_of_order": -0.1}, "webhook_out_of_order must be a finite number >= 0"),
        ({"webhook_delay_min": 3, "webhook_delay_max": 1}, "must not be more than"),
        ({"webhook_attempts": 0}, "webhook_attempts must be >= 1"),
    ],
)
def test_bad_webhook_config_is_refused_and_changes_nothing(
    ctl: SandboxControl, changes: dict[str, Any], message: str
) -> None:
    before = ctl.config()
    with pytest.raises(ValueError) as refused:
        ctl.configure(**changes)
    assert message in str(refused.value)
    assert ctl.config() == before


def test_config_round_trips_with_webhooks() -> None:
    config = SandboxConfig(webhook_url="http://127.0.0.1:1/x", webhook_mix={"opened": 2})
    assert SandboxConfig(**config.to_dict()) == config
    with running_sandbox(config) as server:
        assert SandboxControl(server.url).config() == config.to_dict()


# --- the command line ---


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook-mix", "delivered"], "--webhook-mix must be name=weight pairs"),
        (["--webhook-mix", "delivered=x"], "--webhook-mix must be name=weight pairs"),
        (["--webhook-mix", "lost=1"], "unknown outcome(s) lost"),
        (["--webhook-url", "nope"], "--webhook-url must be an http(s) URL"),
        (["--webhook-duplicates", "2"], "--webhook-duplicates must be between 0 and 1"),
        (["--webhook-secret", "abc"], "--webhook-secret must start with 'whsec_'"),
    ],
)
def test_bad_webhook_options_raise_command_error(args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as refused:
        call_command(Command(), *args)
    assert message in str(refused.value)


def test_python_m_sandbox_posts_webhooks_and_prints_the_generated_secret(
    receiver: Receiver,
) -> None:
    root = Path(__file__).resolve().parents[2]
    args = ["--port", "0", "--webhook-url", receiver.url, "--webhook-mix", "opened=1,sent=0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", *args], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        assert proc.stdout.readline().strip() == (
            f"Webhooks go to {receiver.url} (mix opened=1,sent=0)"
        )
        secret = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        assert secret.startswith("whsec_")
        requests.post(f"{url}/emails", json=sample_email(), headers=AUTH).raise_for_status()
        SandboxControl(url).wait_for_webhooks(count=3)
        for headers, body in receiver.received:
            Webhook(secret).verify(body, headers)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
