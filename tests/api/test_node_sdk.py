"""The official Node SDK (`resend` from npm, pinned in tests/api/node/package.json) against a
live mailhub: `new Resend(key, { baseUrl: "http://HOST/api" })`, nothing else changed.

tests/api/node/flow.mjs runs the whole flow and prints each step's `{data, error}`; this test
checks them and the database. scripts/test installs the SDK (`npm ci`) when node is on the
machine; without node the test is skipped, saying so."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from queueing.api_keys import api_key_create
from queueing.models import ApiScope, Message, MessageStatus

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(NODE is None, reason="node is not installed: the Node SDK test needs it"),
]


def run_flow(base_url: str, send_key: str, other_key: str) -> dict:
    if not (NODE_DIR / "node_modules" / "resend").is_dir():
        pytest.fail(
            "The Node SDK is not installed: run scripts/test (it runs `npm ci` in "
            f"{NODE_DIR.relative_to(NODE_DIR.parents[2])})"
        )
    done = subprocess.run(
        [NODE, "flow.mjs", base_url, send_key, other_key],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def refused(step: dict, status: int, name: str) -> str:
    """The SDK's `{data: null, error: {statusCode, name, message}}`; the message."""
    assert step["data"] is None, step
    assert step["error"]["statusCode"] == status and step["error"]["name"] == name, step
    return step["error"]["message"]


def test_node_sdk_flow(live_server):
    send_key = api_key_create(name="node", scopes=[ApiScope.SEND]).secret
    other_key = api_key_create(name="people", scopes=[ApiScope.RECIPIENTS]).secret
    steps = run_flow(f"{live_server.url}/api", send_key, other_key)

    sent, scheduled = steps["send"]["data"]["id"], steps["scheduled"]["data"]["id"]
    assert steps["get"]["error"] is None
    got = steps["get"]["data"]
    assert got["id"] == sent and got["last_event"] == "queued"
    assert got["from"] == "Shop <shop@example.com>" and got["to"] == ["ada@example.org"]
    assert Message.objects.get(uuid=sent).status == MessageStatus.QUEUED

    first_page = steps["listFirst"]["data"]
    assert [e["id"] for e in first_page["data"]] == [scheduled] and first_page["has_more"]
    assert [e["id"] for e in steps["listAfter"]["data"]["data"]] == [sent]

    assert steps["update"] == {"data": {"object": "email", "id": scheduled}, "error": None}
    assert steps["cancel"] == {"data": {"object": "email", "id": scheduled}, "error": None}
    assert steps["getCanceled"]["data"]["last_event"] == "canceled"
    assert Message.objects.get(uuid=scheduled).status == MessageStatus.CANCELLED
    assert "already `cancelled`" in refused(steps["cancelAgain"], 422, "validation_error")

    assert len(steps["batchStrict"]["data"]["data"]) == 2
    permissive = steps["batchPermissive"]["data"]
    assert len(permissive["data"]) == 1 and [e["index"] for e in permissive["errors"]] == [1]
    assert "index 1" in refused(steps["batchRefused"], 422, "validation_error")

    first, again = steps["idempotentFirst"]["data"], steps["idempotentAgain"]["data"]
    assert first["id"] == again["id"]
    assert Message.objects.filter(subject="Once").count() == 1
    refused(steps["idempotentOther"], 409, "invalid_idempotent_request")

    refused(steps["invalid"], 422, "validation_error")
    refused(steps["notFound"], 404, "not_found")
    refused(steps["unknownKey"], 403, "invalid_api_key")
    refused(steps["restricted"], 401, "restricted_api_key")
    # send, scheduled, 2 strict, 1 permissive, 1 idempotent: the refusals stored nothing.
    assert Message.objects.count() == 6
