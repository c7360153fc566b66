"""schemathesis against the API's own OpenAPI description (/api/openapi.json), on a live server
with a real send key: for every operation, generated requests (valid and not) must never get a
5xx, and every answer must be one the description lists, with a body that matches it.

Bounded: at most MAX_EXAMPLES generated requests per operation. An undocumented status is
fixed in the description (the routers' `response={...}`), not by loosening the checks.

Random ids would only ever find 404s, so each test first sends a few emails through the API
and the generated `email_id` is often one of them: get, reschedule and cancel then answer
200 too, and the list has email objects to check against the schema."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from mailhub.api import api
from queueing.api_keys import api_key_create
from queueing.api_schemas import EXAMPLE_EMAIL
from queueing.models import ApiScope

# 100 in CI; MAILHUB_TEST_FUZZ_EXAMPLES=2000 for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("MAILHUB_TEST_FUZZ_EXAMPLES", "100"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The description /api/openapi.json serves (checked below). Loaded here rather than from the
# live server so that each operation is its own test (schemathesis's lazy fixture loader does
# not work with pytest 9).
schema = schemathesis.openapi.from_dict(api.get_openapi_schema())

# The ids of the emails the running test sent; read when hypothesis draws a path.
SENT_IDS: list[str] = []


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> st.SearchStrategy:
    if not SENT_IDS or "email_id" not in (path_parameters or {}):
        return st.just(path_parameters)
    known = st.sampled_from(list(SENT_IDS)).map(lambda i: {**path_parameters, "email_id": i})
    return st.one_of(st.just(path_parameters), known)


SENDABLE = {"from": EXAMPLE_EMAIL["from"], "to": EXAMPLE_EMAIL["to"]}
# The generated fields kept when an email is made sendable; the rest are dropped.
KEPT = ("subject", "html", "text", "headers", "tags", "priority")


def sendable(email: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in email.items() if k in KEPT}
    return {"html": "<p>Hello</p>", **kept, **SENDABLE}


@schema.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:
    """Random addresses (and random mixes of optional fields) are refused before anything is
    stored; often send a sendable email made from the generated one instead, so that its
    generated subject, html, text, headers and tags reach the database."""
    if isinstance(body, dict) and "from" in body:
        return st.sampled_from([body, sendable(body)])
    if isinstance(body, list) and body and all(isinstance(e, dict) for e in body):
        return st.sampled_from([body, [sendable(e) for e in body]])
    return st.just(body)


@pytest.fixture
def auth_header(live_server) -> Iterator[dict[str, str]]:
    secret = api_key_create(name="fuzz", scopes=[ApiScope.SEND]).secret
    header = {"Authorization": f"Bearer {secret}"}
    emails = [
        EXAMPLE_EMAIL,
        {**EXAMPLE_EMAIL, "cc": "cc@example.org", "text": "Hello", "priority": "bulk"},
        *({**EXAMPLE_EMAIL, "scheduled_at": f"in {n} hours"} for n in (1, 2, 3)),
    ]
    for email in emails:
        sent = requests.post(f"{live_server.url}/api/emails", json=email, headers=header, timeout=5)
        assert sent.status_code == 200, sent.text
        SENT_IDS.append(sent.json()["id"])
    yield header
    SENT_IDS.clear()


def test_the_served_description_is_the_one_fuzzed(live_server):
    served = requests.get(f"{live_server.url}/api/openapi.json", timeout=5)
    assert served.status_code == 200 and served.json() == schema.raw_schema


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_as_described(case, live_server, auth_header):
    case.call_and_validate(base_url=live_server.url, headers=auth_header, checks=CHECKS)
