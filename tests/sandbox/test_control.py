"""The /_sandbox/ control endpoints, SandboxControl, SandboxConfig and the record file."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox import SandboxConfig, SandboxControl, SandboxServer
from sandbox.testing import TEST_API_KEY, running_sandbox, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest.fixture
def ctl(server: SandboxServer) -> Iterator[SandboxControl]:
    control = SandboxControl(server.url)
    yield control
    control.close()


def send(server: SandboxServer, **overrides) -> str:
    response = requests.post(f"{server.url}/emails", json=sample_email(**overrides), headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_health(ctl: SandboxControl) -> None:
    assert ctl.health() is True
    assert SandboxControl("http://127.0.0.1:9", timeout=0.5).health() is False


def test_emails_shape_and_filters(server: SandboxServer, ctl: SandboxControl) -> None:
    first = send(server, to="Ada <Ada@Example.com>", tags=[{"name": "campaign", "value": "c1"}])
    send(server, to=["bob@example.com"], tags=[{"name": "campaign", "value": "c2"}])
    requests.post(
        f"{server.url}/emails/batch",
        json=[sample_email(to="ada@example.com")],
        headers={**AUTH, "Idempotency-Key": "b1"},
    )

    emails = ctl.emails()
    assert len(emails) == 3
    record = emails[0]
    assert set(record) == {
        "id",
        "created_at",
        "accepted_at",
        "idempotency_key",
        "via",
        "batch_index",
        "last_event",
        "scheduled_at",
        "raw_body_sha256",
        "request",
    }
    assert record["id"] == first
    assert (record["via"], record["batch_index"], record["idempotency_key"]) == (
        "single",
        None,
        None,
    )
    assert (emails[2]["via"], emails[2]["batch_index"], emails[2]["idempotency_key"]) == (
        "batch",
        0,
        "b1",
    )
    assert emails == server.state.emails()

    assert [e["id"] for e in ctl.emails(to="ada@example.com")] == [first, emails[2]["id"]]
    assert len(ctl.emails(tag="campaign")) == 2
    assert [e["id"] for e in ctl.emails(tag="campaign:c1")] == [first]
    assert ctl.emails(tag="campaign:c3") == []
    assert ctl.email(first)["id"] == first


def test_requests_log(server: SandboxServer, ctl: SandboxControl) -> None:
    send(server)
    requests.post(
        f"{server.url}/emails", json=sample_email(to="x"), headers={**AUTH, "Idempotency-Key": "k"}
    )
    log = ctl.requests()
    assert len(log) == 2
    assert set(log[0]) == {
        "time",
        "method",
        "path",
        "status",
        "outcome",
        "idempotency_key",
        "emails_in_request",
        "slow",
        "duration_ms",
    }
    assert (log[0]["method"], log[0]["path"], log[0]["status"], log[0]["outcome"]) == (
        "POST",
        "/emails",
        200,
        "accepted",
    )
    assert (log[1]["status"], log[1]["outcome"], log[1]["idempotency_key"]) == (
        422,
        "rejected",
        "k",
    )
    assert isinstance(log[0]["time"], float)


def test_stats_shape(server: SandboxServer, ctl: SandboxControl) -> None:
    assert ctl.stats() == {
        "requests": 0,
        "by_status": {},
        "by_outcome": {},
        "accepted_emails": 0,
        "replayed": 0,
        "rate_limited": 0,
        "faults": {"error_500": 0, "rate_limit_429": 0, "slow": 0, "drop": 0},
        "max_requests_in_any_1s_window": 0,
        "first_accepted_at": None,
        "last_accepted_at": None,
    }
    send(server)
    send(server)
    stats = ctl.stats()
    assert stats["requests"] == 2
    assert stats["by_status"] == {"200": 2}
    assert stats["accepted_emails"] == 2
    assert stats["first_accepted_at"] <= stats["last_accepted_at"]


def test_reset_clears_everything_but_config(server: SandboxServer, ctl: SandboxControl) -> None:
    ctl.configure(rate_limit=50)
    requests.post(
        f"{server.url}/emails", json=sample_email(), headers={**AUTH, "Idempotency-Key": "k"}
    )
    ctl.reset()
    assert ctl.emails() == []
    assert ctl.requests() == []
    assert ctl.stats()["requests"] == 0
    assert ctl.config()["rate_limit"] == 50
    # The idempotency cache is gone too: the same key stores a new email.
    requests.post(
        f"{server.url}/emails", json=sample_email(), headers={**AUTH, "Idempotency-Key": "k"}
    )
    assert len(ctl.emails()) == 1


def test_config_round_trip(server: SandboxServer, ctl: SandboxControl) -> None:
    assert ctl.config() == SandboxConfig().to_dict()
    updated = ctl.configure(fail_rate=0.25, daily_quota=10, api_key="re_x")
    assert updated["fail_rate"] == 0.25
    assert ctl.config() == updated
    assert server.config.daily_quota == 10


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fail_rate": 1.5}, "fail_rate must be between 0 and 1"),
        ({"drop_rate": -0.1}, "drop_rate must be a finite number >= 0"),
        ({"rate_limit": -1}, "rate_limit must be a finite number >= 0"),
        ({"slow_rate": "often"}, "slow_rate must be a number"),
        ({"daily_quota": 2.5}, "daily_quota must be an integer"),
        ({"validate": "yes"}, "validate must be true or false"),
        ({"rate_limit": True}, "rate_limit must be a number"),
        ({"api_key": ""}, "api_key must be a non-empty string"),
        ({"speed": 3}, "unknown config field(s): speed"),
        ({"record_file": "/nonexistent/dir/x.jsonl"}, "record_file"),
    ],
)
def test_bad_config_is_400(
    server: SandboxServer, ctl: SandboxControl, changes: dict, message: str
) -> None:
    response = requests.post(f"{server.url}/_sandbox/config", json=changes)
    assert response.status_code == 400
    assert response.json()["name"] == "validation_error"
    assert message in response.json()["message"]
    with pytest.raises(ValueError, match=re.escape(message)):
        ctl.configure(**changes)
    assert ctl.config() == SandboxConfig().to_dict()  # nothing half-applied


def test_config_body_must_be_an_object(server: SandboxServer) -> None:
    assert requests.post(f"{server.url}/_sandbox/config", json=[1]).status_code == 400
    assert requests.post(f"{server.url}/_sandbox/config", data=b"{").status_code == 400


def test_unknown_control_path(server: SandboxServer) -> None:
    assert requests.get(f"{server.url}/_sandbox/nothing").status_code == 404
    assert requests.delete(f"{server.url}/_sandbox/stats").status_code == 405


def test_sandbox_config_validation() -> None:
    with pytest.raises(ValueError, match="fail_rate must be between 0 and 1"):
        SandboxConfig(fail_rate=2)
    with pytest.raises(ValueError, match="seed must be an integer"):
        SandboxConfig(seed="x")  # type: ignore[arg-type]
    config = SandboxConfig(rate_limit=2)
    assert config.rate_limit == 2.0
    assert config.updated({"rate_limit": 5}).rate_limit == 5.0


def test_record_file_gets_one_line_per_accepted_email(tmp_path: Path) -> None:
    path = tmp_path / "accepted.jsonl"
    with running_sandbox(record_file=str(path)) as server:
        first = send(server)
        requests.post(f"{server.url}/emails/batch", json=[sample_email()] * 2, headers=AUTH)
        requests.post(f"{server.url}/emails", json=sample_email(to="bad"), headers=AUTH)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 3
    assert lines[0]["id"] == first
    assert [line["via"] for line in lines] == ["single", "batch", "batch"]
    assert lines[1]["request"]["to"] == ["ada@example.com"]


def test_wait_for_emails(server: SandboxServer, ctl: SandboxControl) -> None:
    send(server)
    assert len(ctl.wait_for_emails(1, timeout=1)) == 1
    with pytest.raises(TimeoutError, match="expected 2 accepted emails, found 1"):
        ctl.wait_for_emails(2, timeout=0.2)
