"""The floors of the webhook benchmark (benchmarks/webhooks_floor.py), as bare WSGI apps
served by gunicorn exactly as mailhub is, without Django:

- `hello`: reads the body and answers 200: gunicorn's own cost per request;
- `verify_insert`: the least a webhook door can do: the Svix check (HMAC-SHA256 of
  `id.timestamp.body` against each `v1,` signature, the 5 minutes' window), the JSON parse,
  and one `INSERT … ON CONFLICT DO NOTHING` in autocommit, on one psycopg connection per
  thread; no Redis, no framework.
"""

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

KEYS = [
    base64.b64decode(secret.strip().removeprefix("whsec_"))
    for secret in os.environ.get("RESEND_WEBHOOK_SECRETS", "").split(",")
    if secret.strip()
]
DATABASE = os.environ.get("DATABASE_URL", "").replace("postgres://", "postgresql://", 1)
INSERT = (
    "INSERT INTO queueing_providerwebhookevent "
    "(svix_id, type, body, received_at, attempts, error) "
    "VALUES (%s, %s, %s::jsonb, now(), 0, '') ON CONFLICT (svix_id) DO NOTHING RETURNING id"
)
_local = threading.local()


def _answer(start_response: Callable[..., Any], status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    return _answer(start_response, "200 OK", b'{"stored": true}')


def verify_insert(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    svix_id = environ.get("HTTP_SVIX_ID", "")
    timestamp = environ.get("HTTP_SVIX_TIMESTAMP", "")
    if abs(time.time() - int(timestamp)) > 300:
        return _answer(start_response, "401 Unauthorized", b'{"error": "stale"}')
    signed = f"{svix_id}.{timestamp}.".encode() + body
    given = [
        entry.partition(",")[2].encode()
        for entry in environ.get("HTTP_SVIX_SIGNATURE", "").split()
        if entry.startswith("v1,")
    ]
    if not any(
        hmac.compare_digest(base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()), sig)
        for key in KEYS
        for sig in given
    ):
        return _answer(start_response, "401 Unauthorized", b'{"error": "signature"}')
    event = json.loads(body)
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = psycopg.connect(DATABASE, autocommit=True)
    new = conn.execute(INSERT, [svix_id, event.get("type", ""), body.decode()]).fetchone()
    return _answer(start_response, "200 OK", b'{"stored": %s}' % (b"true" if new else b"false"))
