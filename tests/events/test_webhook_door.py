"""The webhook door (mailhub/webhook_door.py): `POST /webhooks/resend` answered beside
Django's middleware stack keeps the endpoint's behaviour, its security headers, and the
guarantee that every stored event is processed. Requests go through the real WSGI app."""

import io
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import connection, connections

from mailhub import wsgi
from mailhub.webhook_door import webhook_door
from queueing import enqueue, hooks
from queueing.models import ProviderWebhookEvent
from tests.conftest import run_worker_burst
from tests.events.conftest import after, event, signed_headers

pytestmark = pytest.mark.django_db(transaction=True)

SECURITY_HEADERS = (
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Strict-Transport-Security",
)


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.headers = dict(headers)
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: Callable[..., Any],
    body: bytes | str = b"",
    *,
    method: str = "POST",
    path: str = "/webhooks/resend",
    meta: dict[str, str] | None = None,
    scheme: str = "http",
) -> Answer:
    """One request through a WSGI app, as gunicorn would make it."""
    body = body.encode() if isinstance(body, str) else body
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "443" if scheme == "https" else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": scheme,
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **(meta or {}),
    }
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.update(status=status, headers=headers)

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return Answer(started["status"], started["headers"], content)


def signed(payload: dict | str, **signing: Any) -> tuple[str, dict[str, str]]:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return body, signed_headers(body, **signing)


@pytest.fixture
def door(webhook_secrets) -> Callable[..., Answer]:
    """Post through a door built now, on this test's settings (middleware reads its settings
    when it is made, as at a server's start)."""

    def post(payload: dict | str = "", *, meta: dict | None = None, **kwargs: Any) -> Answer:
        app = webhook_door(WSGIHandler())
        return call(
            app, payload if isinstance(payload, str) else json.dumps(payload), meta=meta, **kwargs
        )

    return post


def post_signed(door: Callable[..., Answer], payload: dict, **signing: Any) -> Answer:
    body, headers = signed(payload, **signing)
    return door(body, meta=headers)


def stored() -> int:
    return ProviderWebhookEvent.objects.count()


def test_the_served_application_answers_webhooks_outside_djangos_request_cycle(webhook_secrets):
    """mailhub.wsgi.application is the door: no request signal (no middleware, no health
    check) for the webhook, Django's whole cycle for anything else."""
    fired: list[str] = []

    def note(sender: Any, environ: dict, **kwargs: Any) -> None:
        fired.append(environ["PATH_INFO"])

    request_started.connect(note)
    try:
        body, headers = signed(event("delivered", email_id="re_1"))
        answer = call(wsgi.application, body, meta=headers)
        assert answer.status_code == 200 and answer.json() == {"stored": True}
        assert fired == []
        assert call(wsgi.application, method="GET", path="/healthz").status_code == 200
        assert fired == ["/healthz"]
    finally:
        request_started.disconnect(note)
    assert stored() == 1


def test_a_signed_event_is_stored_and_duplicates_once(door, clean_redis):
    body = event("delivered", email_id="re_1")
    first = post_signed(door, body, svix_id="msg_door")
    assert first.status_code == 200 and first.json() == {"stored": True}
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Content-Length"] == str(len(first.body))
    for _ in range(2):
        again = post_signed(door, body, svix_id="msg_door")
        assert again.status_code == 200 and again.json() == {"stored": False}
    row = ProviderWebhookEvent.objects.get()
    assert (row.svix_id, row.type, row.processed_at) == ("msg_door", "email.delivered", None)
    assert row.body == body  # the body as received, stored as JSON
    assert clean_redis.llen("rq:queue:events") == 1


def test_a_bad_signature_is_401_and_nothing_is_stored(door):
    body, headers = signed(event("delivered", email_id="re_1"))
    answer = door(body.replace("re_1", "re_2"), meta=headers)
    assert answer.status_code == 401 and "error" in answer.json()
    other = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    assert post_signed(door, event("delivered"), secret=other).status_code == 401
    assert stored() == 0


def test_a_stale_timestamp_is_401(door):
    answer = post_signed(door, event("delivered"), at=after(6 * 60))
    assert answer.status_code == 401 and "window" in answer.json()["error"]
    assert stored() == 0


@pytest.mark.parametrize("missing", ["HTTP_SVIX_ID", "HTTP_SVIX_TIMESTAMP", "HTTP_SVIX_SIGNATURE"])
def test_missing_signature_headers_are_400(door, missing):
    body, headers = signed(event("delivered"))
    del headers[missing]
    answer = door(body, meta=headers)
    assert answer.status_code == 400 and "missing header" in answer.json()["error"]
    assert stored() == 0


def test_a_body_over_the_limit_is_413_unread(door, settings):
    settings.RESEND_WEBHOOK_MAX_BYTES = 1000
    body, headers = signed(event("delivered", subject="x" * 2000))
    answer = door(body, meta=headers)
    assert answer.status_code == 413
    assert stored() == 0


def test_only_post_the_rest_is_djangos_405(door):
    for method in ("GET", "PUT", "DELETE"):
        answer = door(method=method)
        assert answer.status_code == 405
        assert answer.headers["Allow"] == "POST"


def test_a_host_outside_allowed_hosts_is_400(door):
    body, headers = signed(event("delivered"))
    answer = door(body, meta={**headers, "HTTP_HOST": "evil.example"})
    assert answer.status_code == 400
    assert stored() == 0


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_answers_carry_the_same_security_headers_as_djangos(door, settings, scheme):
    settings.SECURE_HSTS_SECONDS = 3600  # on in production; sent on HTTPS answers only
    body, headers = signed(event("delivered", email_id="re_1"))
    through_door = door(body, meta=headers, scheme=scheme)
    refused_door = door(body + " ", meta=headers, scheme=scheme)
    django = WSGIHandler()
    body, headers = signed(event("delivered", email_id="re_2"))
    through_django = call(django, body, meta=headers, scheme=scheme)
    refused_django = call(django, body + " ", meta=headers, scheme=scheme)
    assert (through_door.status_code, refused_door.status_code) == (200, 401)
    assert (through_django.status_code, refused_django.status_code) == (200, 401)
    for name in SECURITY_HEADERS:
        assert through_door.headers.get(name) == through_django.headers.get(name), name
        assert refused_door.headers.get(name) == refused_django.headers.get(name), name
    assert through_door.headers["X-Content-Type-Options"] == "nosniff"
    assert through_door.headers["X-Frame-Options"] == "DENY"
    assert ("Strict-Transport-Security" in through_door.headers) == (scheme == "https")


def test_the_https_redirect_applies_as_configured(door, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert post_signed(door, event("delivered")).status_code == 200  # exempt: webhooks/
    settings.SECURE_REDIRECT_EXEMPT = []
    answer = post_signed(door, event("delivered"))
    assert answer.status_code == 301
    assert answer.headers["Location"] == "https://localhost/webhooks/resend"
    assert stored() == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="a server-side disconnection")
def test_a_connection_broken_since_the_last_webhook_is_replaced(door):
    """The door skips Django's health check: the store's insert retries on a new connection."""
    assert post_signed(door, event("delivered")).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    answer = post_signed(door, event("opened"))
    assert answer.status_code == 200 and answer.json() == {"stored": True}
    assert stored() == 2


def test_a_stored_event_is_processed_by_a_real_worker(door):
    assert post_signed(door, event("delivered", email_id="re_unknown")).status_code == 200
    run_worker_burst()
    row = ProviderWebhookEvent.objects.get()
    assert row.processed_at is not None and row.error == ""


def test_a_process_asks_redis_at_most_once_per_window(door, clean_redis, monkeypatch):
    monkeypatch.setattr(enqueue, "ASK_WINDOW_SECONDS", 60.0)
    post_signed(door, event("delivered"))
    assert clean_redis.exists(enqueue.EVENTS_FLAG)
    clean_redis.delete(enqueue.EVENTS_FLAG)
    post_signed(door, event("opened"))
    assert not clean_redis.exists(enqueue.EVENTS_FLAG)  # within the window: not asked
    monkeypatch.setattr(enqueue, "ASK_WINDOW_SECONDS", 0.0)
    post_signed(door, event("clicked"))
    assert clean_redis.exists(enqueue.EVENTS_FLAG)  # past it: asked again


@pytest.fixture
def late_poster(door) -> Iterator[list[threading.Thread]]:
    """A listener that, while the first batch is being applied (after the job cleared its
    flag), posts one more webhook from another thread, as another gunicorn thread would."""
    threads: list[threading.Thread] = []

    def post_late() -> None:
        try:
            assert post_signed(door, event("opened", email_id="re_late")).status_code == 200
        finally:
            connections.close_all()

    def listener(events: list) -> None:
        if not threads:
            threads.append(threading.Thread(target=post_late))
            threads[0].start()  # not joined here: on SQLite it waits for this batch's commit

    hooks.register_event_listener("test-late-poster", listener)
    yield threads
    hooks._event_listeners.pop("test-late-poster", None)
    for thread in threads:
        thread.join(timeout=30)


def test_an_event_that_relied_on_a_running_job_is_processed(
    door, late_poster, clean_redis, monkeypatch
):
    """An event stored within the window after its process asked does not ask Redis: the job
    that clears the flag looks again once the window has passed, and asks for a job."""
    monkeypatch.setattr(enqueue, "ASK_WINDOW_SECONDS", 5.0)  # roomy on a loaded machine
    assert post_signed(door, event("delivered", email_id="re_first")).status_code == 200
    assert clean_redis.llen("rq:queue:events") == 1
    run_worker_burst()  # the job; its look again asks for a second job, run in the burst too
    late_poster[0].join(timeout=30)
    assert stored() == 2
    assert not ProviderWebhookEvent.objects.filter(processed_at__isnull=True).exists()
