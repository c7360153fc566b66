"""POST /emails/batch: strict and permissive validation, limits, idempotency, the SDK."""

from typing import Any

import pytest
import requests
import resend

from sandbox import SandboxServer
from sandbox.testing import TEST_API_KEY, resend_pointed_at, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def batch(server: SandboxServer, items: Any, mode: str | None = None, **headers: str):
    if mode:
        headers["x-batch-validation"] = mode
    return requests.post(f"{server.url}/emails/batch", json=items, headers={**AUTH, **headers})


def test_strict_batch_accepts_all_in_order(server: SandboxServer) -> None:
    items = [sample_email(to=f"u{i}@example.com") for i in range(100)]
    response = batch(server, items)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data"}
    ids = [entry["id"] for entry in body["data"]]
    assert len(set(ids)) == 100
    stored = server.state.emails()
    assert [e["id"] for e in stored] == ids
    assert [e["batch_index"] for e in stored] == list(range(100))
    assert {e["via"] for e in stored} == {"batch"}
    assert stored[7]["request"]["to"] == "u7@example.com"
    assert len({e["raw_body_sha256"] for e in stored}) == 1


def test_strict_batch_rejects_everything_and_names_the_index(server: SandboxServer) -> None:
    items = [sample_email(), sample_email(), sample_email(to="bad")]
    response = batch(server, items, "strict")
    assert response.status_code == 422
    body = response.json()
    assert body["name"] == "validation_error"
    assert body["message"].startswith("Email at index 2: Invalid `to` field.")
    assert server.state.emails() == []


def test_permissive_batch_accepts_valid_items_and_lists_errors(server: SandboxServer) -> None:
    items = [
        sample_email(to="a@example.com"),
        sample_email(to="bad"),
        sample_email(to="c@example.com"),
        sample_email(subject=None),
        sample_email(to="e@example.com"),
    ]
    response = batch(server, items, "permissive")
    assert response.status_code == 200
    body = response.json()
    assert [e["index"] for e in body["errors"]] == [1, 3]
    assert "Invalid `to` field" in body["errors"][0]["message"]
    assert body["errors"][1]["message"] == "Missing `subject` field."
    # `data` lists only the accepted items, in request order.
    assert len(body["data"]) == 3
    stored = server.state.emails()
    assert [e["id"] for e in stored] == [d["id"] for d in body["data"]]
    assert [e["batch_index"] for e in stored] == [0, 2, 4]
    assert [e["request"]["to"] for e in stored] == [
        "a@example.com",
        "c@example.com",
        "e@example.com",
    ]


def test_permissive_batch_with_no_errors_has_an_empty_errors_list(server: SandboxServer) -> None:
    body = batch(server, [sample_email()], "PERMISSIVE").json()
    assert len(body["data"]) == 1
    assert body["errors"] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("attachments", [{"filename": "a.txt", "content": "aGk="}]), ("scheduled_at", "in 1 hour")],
)
def test_attachments_and_scheduled_at_are_not_allowed(
    server: SandboxServer, field: str, value: Any
) -> None:
    items = [sample_email(), sample_email(**{field: value})]
    strict = batch(server, items)
    assert strict.status_code == 422
    assert f"`{field}` field is not supported for batch emails" in strict.json()["message"]
    assert "index 1" in strict.json()["message"]
    permissive = batch(server, items, "permissive").json()
    assert [e["index"] for e in permissive["errors"]] == [1]
    assert len(permissive["data"]) == 1


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "between 1 and 100"),
        ([sample_email()] * 101, "between 1 and 100"),
        (sample_email(), "JSON array"),
    ],
)
def test_batch_envelope_is_checked_in_both_modes(
    server: SandboxServer, items: Any, message: str
) -> None:
    for mode in ("strict", "permissive"):
        response = batch(server, items, mode)
        assert response.status_code == 422
        assert message in response.json()["message"]
    assert server.state.emails() == []


def test_unknown_validation_mode_is_rejected(server: SandboxServer) -> None:
    response = batch(server, [sample_email()], "lenient")
    assert response.status_code == 422
    assert "x-batch-validation" in response.json()["message"]


def test_batch_idempotent_replay(server: SandboxServer) -> None:
    items = [sample_email(to=f"u{i}@example.com") for i in range(3)]
    first = batch(server, items, **{"Idempotency-Key": "batch-1"})
    second = batch(server, items, **{"Idempotency-Key": "batch-1"})
    assert first.content == second.content
    assert len(server.state.emails()) == 3


def test_sdk_batch_permissive(server: SandboxServer) -> None:
    items = [sample_email(), sample_email(to="bad"), sample_email()]
    with resend_pointed_at(server.url):
        answer = resend.Batch.send(
            items, {"idempotency_key": "sdk-batch", "batch_validation": "permissive"}
        )
    assert len(answer["data"]) == 2
    assert answer["errors"][0]["index"] == 1
    assert server.state.emails()[0]["idempotency_key"] == "sdk-batch"


def test_emails_in_request_is_logged(server: SandboxServer) -> None:
    batch(server, [sample_email()] * 4)
    assert server.state.requests()[-1]["emails_in_request"] == 4
