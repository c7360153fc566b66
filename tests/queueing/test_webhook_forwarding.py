"""Forwarding provider events to API keys' own webhook endpoints (issue 13, item 9).

The listener is called directly with ProviderEvent values built here, about real messages
queued with an API key (as evcore's processing will call it); deliveries are sent by a real
RQ worker on the `events` queue to a real HTTP server in the test, and the signature is
checked with the independent `svix` package and with `resend.Webhooks.verify`.
"""

import json
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
import resend
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_rq import get_worker
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from queueing.api_keys import api_key_create, api_key_revoke
from queueing.forwarding.endpoints import (
    webhook_deliveries_retry,
    webhook_endpoint_create,
    webhook_endpoint_roll_secret,
    webhook_endpoint_update,
)
from queueing.forwarding.listener import forward_events
from queueing.forwarding.reconcile import webhook_deliveries_reconcile
from queueing.forwarding.sending import next_attempt_delay
from queueing.forwarding.url_guard import address_problem
from queueing.hooks import ProviderEvent, event_listeners
from queueing.models import DeliveryStatus, WebhookDelivery
from queueing.services import message_create
from tests.queueing.webhook_receiver import start_receiver

pytestmark = pytest.mark.django_db(transaction=True)

OCCURRED = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)


@pytest.fixture
def receiver():
    yield from start_receiver()


@pytest.fixture
def key():
    return api_key_create(name="shop", scopes=["send"]).api_key


def send_with(api_key, to: str = "ann@example.com"):
    return message_create(to=[to], subject="Your order", text="Thanks", api_key=api_key)


_raw_ids = iter(range(1000, 100_000))


def event(message, type_: str = "email.delivered", *, raw_event_id: int | None = None, **extra):
    """A ProviderEvent as evcore announces it, with Resend's `data` as it arrives."""
    data = {
        "email_id": "re_4ef9a417-02e9-4d39-ad75-9611e0fcc33c",
        "from": message.from_email,
        "to": list(message.to),
        "subject": message.subject,
        "created_at": "2026-11-30T12:00:00.000Z",
        "tags": {"mailhub_message": str(message.uuid), "category": "order"},
        **extra,
    }
    return ProviderEvent(
        raw_event_id=next(_raw_ids) if raw_event_id is None else raw_event_id,
        type=type_,
        kind=type_.removeprefix("email."),
        occurred_at=OCCURRED,
        message_id=message.pk,
        api_key_id=message.api_key_id,
        addresses=tuple(message.to),
        data=data,
    )


def forward(*events: ProviderEvent) -> None:
    """As evcore calls listeners: inside the transaction that applied the events."""
    with transaction.atomic():
        forward_events(list(events))


def run_events_worker() -> None:
    worker = get_worker("events", worker_class="queueing.worker.MailhubSimpleWorker")
    worker.work(burst=True, logging_level="WARNING")


def make_due(delivery: WebhookDelivery) -> None:
    """Move the clock past the delivery's wait (then the reconciler's step asks for a job)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_queueing_registers_the_listener() -> None:
    assert ("webhook_forwarding", forward_events) in event_listeners()


def test_forwarded_event_is_resends_shape_signed_the_svix_way(receiver, key) -> None:
    message = send_with(key)
    made = webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks/resend")
    assert made.secret.startswith("whsec_")

    forward(event(message, "email.delivered"))
    run_events_worker()

    (got,) = receiver.received
    assert got.path == "/hooks/resend"
    assert got.headers["content-type"] == "application/json"
    # The independent verifiers accept the signature with the endpoint's secret…
    SvixWebhook(made.secret).verify(got.body, got.headers)  # raises when it does not verify
    headers = {
        "id": got.headers["svix-id"],
        "timestamp": got.headers["svix-timestamp"],
        "signature": got.headers["svix-signature"],
    }
    payload = got.body.decode()
    assert resend.Webhooks.verify(
        {"payload": payload, "headers": headers, "webhook_secret": made.secret}
    )
    # …and refuse it with another secret or another body.
    other = webhook_endpoint_create(api_key=key, url=f"{receiver.url}/other").secret
    with pytest.raises(WebhookVerificationError):
        SvixWebhook(other).verify(got.body, got.headers)
    with pytest.raises(ValueError):
        resend.Webhooks.verify(
            {
                "payload": payload.replace("Your", "Our"),
                "headers": headers,
                "webhook_secret": made.secret,
            }
        )

    # Resend's own shape; email_id is the id the API gave the client; mailhub's tag is gone.
    body = got.json
    assert list(body) == ["type", "created_at", "data"]
    assert body["type"] == "email.delivered"
    assert body["created_at"] == "2026-11-30T12:00:05Z"
    assert body["data"]["email_id"] == str(message.uuid)
    assert body["data"]["to"] == ["ann@example.com"]
    assert body["data"]["subject"] == "Your order"
    assert body["data"]["tags"] == {"category": "order"}

    delivery = WebhookDelivery.objects.get()
    assert delivery.msg_id == got.headers["svix-id"] and delivery.msg_id.startswith("msg_")
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None


def test_event_types_filter_each_endpoint(receiver, key) -> None:
    message = send_with(key)
    bounces = webhook_endpoint_create(
        api_key=key, url=f"{receiver.url}/bounces", event_types=["email.bounced"]
    )
    everything = webhook_endpoint_create(api_key=key, url=f"{receiver.url}/all")

    forward(
        event(message, "email.delivered"),
        event(message, "email.bounced", bounce={"type": "Permanent", "subType": "General"}),
        event(message, "email.some_new_type"),  # unknown types reach "all" endpoints too
    )
    run_events_worker()

    by_path = sorted((r.path, r.json["type"]) for r in receiver.received)
    assert by_path == [
        ("/all", "email.bounced"),
        ("/all", "email.delivered"),
        ("/all", "email.some_new_type"),
        ("/bounces", "email.bounced"),
    ]
    bounced = next(r for r in receiver.received if r.path == "/bounces")
    assert bounced.json["data"]["bounce"] == {"type": "Permanent", "subType": "General"}
    assert WebhookDelivery.objects.filter(endpoint=bounces.endpoint).count() == 1
    assert WebhookDelivery.objects.filter(endpoint=everything.endpoint).count() == 3


def test_only_the_keys_own_messages_are_forwarded(receiver, key) -> None:
    other_key = api_key_create(name="billing", scopes=["send"]).api_key
    webhook_endpoint_create(api_key=key, url=f"{receiver.url}/shop")
    webhook_endpoint_create(api_key=other_key, url=f"{receiver.url}/billing")
    mine = send_with(key)
    theirs = send_with(other_key)
    staff_mail = send_with(None)  # queued in the admin or by a campaign: no key

    forged = event(mine)
    forged = ProviderEvent(**{**forged.__dict__, "api_key_id": other_key.pk})
    forward(
        event(mine),
        event(theirs),
        event(staff_mail),
        forged,  # an event that names another key than its message's: the message decides
        ProviderEvent(  # an event for no known message
            raw_event_id=next(_raw_ids),
            type="email.delivered",
            kind="delivered",
            occurred_at=OCCURRED,
            message_id=None,
            api_key_id=key.pk,
        ),
    )
    run_events_worker()

    got = sorted((r.path, r.json["data"]["email_id"]) for r in receiver.received)
    assert got == sorted([("/shop", str(mine.uuid)), ("/billing", str(theirs.uuid))])


def test_an_event_processed_again_is_forwarded_once(receiver, key) -> None:
    message = send_with(key)
    webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks")
    again = event(message, raw_event_id=77)
    forward(again, again)
    forward(again)
    run_events_worker()
    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.count() == 1


def test_a_rolled_back_batch_forwards_nothing(receiver, key) -> None:
    message = send_with(key)
    webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks")
    with pytest.raises(RuntimeError), transaction.atomic():
        forward_events([event(message)])
        raise RuntimeError("another listener failed")
    run_events_worker()
    assert not WebhookDelivery.objects.exists() and not receiver.received


def test_disabled_endpoints_and_revoked_keys_get_nothing(receiver, key) -> None:
    message = send_with(key)
    endpoint = webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks").endpoint
    webhook_endpoint_update(endpoint=endpoint, active=False)
    forward(event(message))
    assert not WebhookDelivery.objects.exists()

    # Deliveries written while it was active fail unsent once it is disabled or the key revoked.
    webhook_endpoint_update(endpoint=endpoint, active=True)
    forward(event(message))
    webhook_endpoint_update(endpoint=endpoint, active=False)
    run_events_worker()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "disabled" in delivery.last_error

    webhook_endpoint_update(endpoint=endpoint, active=True)
    api_key_revoke(api_key=key)
    forward(event(message))
    assert WebhookDelivery.objects.count() == 1
    assert not receiver.received


def test_a_500_is_retried_with_backoff_under_the_same_svix_id(receiver, key) -> None:
    message = send_with(key)
    made = webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks")
    receiver.answer(500)
    receiver.answer(503)
    forward(event(message, "email.opened"))

    before = timezone.now()
    run_events_worker()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    assert "HTTP 500" in delivery.last_error
    # The first wait of the schedule (5 s by default), not at once.
    assert (
        before + timedelta(seconds=4)
        < delivery.next_attempt_at
        < timezone.now() + timedelta(seconds=6)
    )

    run_events_worker()  # not due yet: nothing is sent
    assert len(receiver.received) == 1
    assert webhook_deliveries_reconcile() == {"webhook_jobs_requested": 0}

    make_due(delivery)
    assert webhook_deliveries_reconcile() == {"webhook_jobs_requested": 1}
    run_events_worker()
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (2, 503)
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=25)  # then 30 s

    make_due(delivery)
    webhook_deliveries_reconcile()
    run_events_worker()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 3

    # One svix-id for every attempt (the receiver drops repeats by it); each attempt signed
    # afresh, and the same bytes every time.
    assert len({r.headers["svix-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    for got in receiver.received:
        SvixWebhook(made.secret).verify(got.body, got.headers)


def test_backoff_schedule_and_its_last_wait_repeating(settings) -> None:
    settings.MAILHUB_WEBHOOK_RETRY_DELAYS = [5, 30, 120, 600, 3600, 21600, 43200]
    assert [next_attempt_delay(n) for n in range(1, 10)] == [
        5,
        30,
        120,
        600,
        3600,
        21600,
        43200,
        43200,
        43200,
    ]
    settings.MAILHUB_WEBHOOK_RETRY_DELAYS = []
    assert next_attempt_delay(1) is None


def test_gives_up_once_the_next_attempt_would_pass_the_window(receiver, key, settings) -> None:
    settings.MAILHUB_WEBHOOK_RETRY_WINDOW_SECONDS = 24 * 3600
    message = send_with(key)
    webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks")
    receiver.answer(500)
    receiver.answer(500)
    forward(event(message))
    run_events_worker()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING

    # The event is almost a day old: the next wait would end past the window.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(hours=24) + timedelta(seconds=20)
    )
    make_due(delivery)
    webhook_deliveries_reconcile()
    run_events_worker()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    assert "HTTP 500" in delivery.last_error and "gave up after 2 attempt(s)" in delivery.last_error
    assert webhook_deliveries_reconcile() == {"webhook_jobs_requested": 0}

    # "Retry now" in the admin: one more attempt, delivered this time.
    webhook_deliveries_retry(deliveries=[delivery])
    run_events_worker()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and len(receiver.received) == 3


def test_redirects_are_never_followed(key) -> None:
    gen_target, gen_redirecting = start_receiver(), start_receiver()
    target, redirecting = next(gen_target), next(gen_redirecting)
    try:
        message = send_with(key)
        webhook_endpoint_create(api_key=key, url=f"{redirecting.url}/hooks")
        redirecting.answer(307, location=f"{target.url}/elsewhere")
        forward(event(message))
        run_events_worker()
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 307
        assert "redirects are not followed" in delivery.last_error
        assert len(redirecting.received) == 1 and not target.received
    finally:
        gen_target.close()
        gen_redirecting.close()


def test_no_answer_in_time_is_a_failed_attempt(key, settings) -> None:
    settings.MAILHUB_WEBHOOK_TIMEOUT = 0.5
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        message = send_with(key)
        webhook_endpoint_create(api_key=key, url=f"http://127.0.0.1:{port}/hooks")
        forward(event(message))
        run_events_worker()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code is None and "timed out" in delivery.last_error


def test_an_answer_dripped_byte_by_byte_is_cut_off(key, settings) -> None:
    """Each read comes within the timeout, but the whole call is bounded too."""
    settings.MAILHUB_WEBHOOK_TIMEOUT = 0.5
    stop = threading.Event()

    def drip(server: socket.socket) -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(100):  # 20 s at most, so a broken bound fails instead of hanging
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(b"x-slow: 1\r\n")
                except OSError:
                    return

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        thread = threading.Thread(target=drip, args=(server,), daemon=True)
        thread.start()
        message = send_with(key)
        webhook_endpoint_create(
            api_key=key, url=f"http://127.0.0.1:{server.getsockname()[1]}/hooks"
        )
        forward(event(message))
        run_events_worker()
        stop.set()
        thread.join(5)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error == "no complete answer within 1.5 s"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/x", "https://"),
        ("https://127.0.0.1/x", "not a public address"),
        ("https://10.1.2.3/x", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("https://[::1]:8443/x", "not a public address"),
        ("https://[::ffff:192.168.0.1]/x", "not a public address"),
        ("https://100.64.0.1/x", "not a public address"),
        ("https://localhost/x", "local name"),
        ("https://metadata.google.internal/x", "local name"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("ftp://hooks.example.com/x", "https://"),
        ("https:///x", "no host"),
    ],
)
def test_private_and_odd_urls_are_refused(key, settings, url: str, says: str) -> None:
    settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = False
    with pytest.raises(ValidationError) as refused:
        webhook_endpoint_create(api_key=key, url=url)
    assert says in refused.value.message_dict["url"][0]


def test_public_https_urls_are_accepted(key, settings) -> None:
    settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = False
    made = webhook_endpoint_create(api_key=key, url="https://hooks.example.com/resend?x=1")
    assert made.endpoint.url == "https://hooks.example.com/resend?x=1"
    assert address_problem("93.184.215.14") is None
    assert address_problem("2606:4700::1111") is None
    for inside in ("127.0.0.1", "::1", "fe80::1", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1"):
        assert address_problem(inside), inside


def test_an_endpoint_turned_private_is_refused_at_delivery(receiver, key, settings) -> None:
    """Checked again on every delivery, on the address connected to: an endpoint made while
    allowed (or a name that later resolves inwards) gets nothing."""
    message = send_with(key)
    webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks")
    forward(event(message))
    settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = False
    run_events_worker()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.last_error.startswith("refused:")
    assert not receiver.received


def test_a_name_that_resolves_inwards_is_refused_at_delivery(receiver, key, settings) -> None:
    name = socket.gethostname()
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(name, 443)}
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = False
    if not any(address_problem(ip) for ip in resolved) or "." in name:
        pytest.skip(f"{name!r} resolves to public addresses here: {resolved}")
    message = send_with(key)
    settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = True
    port = receiver.server.server_address[1]
    webhook_endpoint_create(api_key=key, url=f"https://{name}:{port}/hooks")
    settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = False
    forward(event(message))
    run_events_worker()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert f"{name} resolves to" in delivery.last_error
    assert not receiver.received


def test_unknown_event_types_and_the_per_key_cap_are_refused(key) -> None:
    with pytest.raises(ValidationError) as refused:
        webhook_endpoint_create(
            api_key=key, url="https://hooks.example.com/", event_types=["email.delivred"]
        )
    assert "email.delivred" in refused.value.message_dict["event_types"][0]
    revoked = api_key_create(name="old", scopes=["send"]).api_key
    api_key_revoke(api_key=revoked)
    with pytest.raises(ValidationError):
        webhook_endpoint_create(api_key=revoked, url="https://hooks.example.com/")


def test_a_rolled_secret_signs_the_retries(receiver, key) -> None:
    message = send_with(key)
    first = webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks")
    receiver.answer(500)
    forward(event(message))
    run_events_worker()
    rolled = webhook_endpoint_roll_secret(endpoint=first.endpoint)
    assert rolled.secret != first.secret
    make_due(WebhookDelivery.objects.get())
    webhook_deliveries_reconcile()
    run_events_worker()
    SvixWebhook(first.secret).verify(receiver.received[0].body, receiver.received[0].headers)
    SvixWebhook(rolled.secret).verify(receiver.received[1].body, receiver.received[1].headers)


def test_body_is_compact_json_parsed_by_resend_verify(receiver, key) -> None:
    message = send_with(key)
    made = webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks")
    forward(event(message, "email.clicked", click={"link": "https://example.com/ü"}))
    run_events_worker()
    (got,) = receiver.received
    assert json.loads(got.body)["data"]["click"]["link"] == "https://example.com/ü"
    parsed = resend.Webhooks.verify(
        {
            "payload": got.body.decode(),
            "headers": {
                "id": got.headers["svix-id"],
                "timestamp": got.headers["svix-timestamp"],
                "signature": got.headers["svix-signature"],
            },
            "webhook_secret": made.secret,
        }
    )
    assert parsed["type"] == "email.clicked"
