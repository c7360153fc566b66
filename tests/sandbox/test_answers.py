"""Answers on demand (/_sandbox/answers) and unverified sending domains: the sandbox can give
every answer of Resend's error reference, and only those."""

import pytest
import requests

from queueing.resend import errors
from sandbox import SandboxControl, SandboxServer
from sandbox.testing import TEST_API_KEY, running_sandbox, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
UNVERIFIED = "unverified.example"


@pytest.fixture
def ctl(server: SandboxServer) -> SandboxControl:
    return SandboxControl(server.url)


def send(server: SandboxServer, **overrides) -> requests.Response:
    return requests.post(f"{server.url}/emails", json=sample_email(**overrides), headers=AUTH)


def batch(server: SandboxServer, items: list[dict], mode: str = "permissive") -> requests.Response:
    headers = {**AUTH, "x-batch-validation": mode, "Idempotency-Key": f"b-{id(items)}"}
    return requests.post(f"{server.url}/emails/batch", json=items, headers=headers)


@pytest.mark.parametrize(("name", "status"), errors.ANSWERS)
def test_every_answer_of_resends_reference_can_be_asked_for(server, ctl, name, status) -> None:
    ctl.answer(name, status, count=1)
    response = send(server)
    assert response.status_code == status
    assert response.json() == {
        "statusCode": status,
        "name": name,
        "message": errors.DEFAULT_MESSAGES[(name, status)],
    }
    assert server.state.emails() == []
    assert ctl.stats()["by_outcome"].get("scripted") == 1
    # Spent: the next send is accepted.
    assert send(server).status_code == 200


def test_a_pair_resend_never_gives_is_refused_and_nothing_is_added(ctl) -> None:
    with pytest.raises(ValueError, match="does not answer 'invalid_api_key' with 401"):
        ctl.answer("invalid_api_key", 401)
    with pytest.raises(ValueError, match="does not answer 'teapot'"):
        ctl.answer("teapot", 418)
    with pytest.raises(ValueError, match="count must be a positive integer"):
        ctl.answer("security_error", count=0)
    assert ctl.answers() == []


def test_bad_answer_requests_are_400(server) -> None:
    url = f"{server.url}/_sandbox/answers"
    for body in ([], {"name": "security_error", "colour": "red"}, {"name": "x", "status": "4"}):
        response = requests.post(url, json=body)
        assert response.status_code == 400
        assert response.json()["name"] == "validation_error"


def test_usual_status_count_and_clearing(server, ctl) -> None:
    assert ctl.answer("security_error", count=2)["status"] == 451
    assert [send(server).status_code for _ in range(3)] == [451, 451, 200]
    ctl.answer("internal_server_error", count=None, message="Down for a minute.")
    assert [send(server).json()["message"] for _ in range(2)] == ["Down for a minute."] * 2
    assert len(ctl.answers()) == 1
    ctl.clear_answers()
    assert send(server).status_code == 200
    ctl.answer("security_error", count=None)
    ctl.reset()
    assert ctl.answers() == [] and send(server).status_code == 200


def test_answers_for_one_sending_domain_or_recipient(server, ctl) -> None:
    ctl.answer("invalid_from_address", count=None, from_domain="Bad.Example")
    ctl.answer("security_error", count=None, to="eve@example.com")
    assert send(server, from_="Bad <news@bad.example>").status_code == 422
    assert send(server, from_="news@good.example").status_code == 200
    assert send(server, to=["Eve <EVE@example.com>"]).status_code == 451
    assert send(server, to=["ada@example.com"], cc=["eve@example.com"]).status_code == 451
    assert send(server, to=["ada@example.com"]).status_code == 200
    # A batch is answered as a whole when any of its emails matches.
    good = sample_email(from_="news@good.example")
    bad = sample_email(from_="news@bad.example")
    assert batch(server, [good, bad]).status_code == 422
    assert batch(server, [good, good]).status_code == 200


def test_real_auth_comes_first(ctl) -> None:
    with running_sandbox(api_key="re_right") as server:
        SandboxControl(server.url).answer("security_error", count=None)
        response = send(server)  # the wrong key
        assert (response.status_code, response.json()["name"]) == (403, "invalid_api_key")


def test_a_scripted_rate_limit_carries_retry_after(server, ctl) -> None:
    ctl.answer("rate_limit_exceeded")
    response = send(server)
    assert response.status_code == 429 and response.headers["retry-after"] == "1"


def test_an_unverified_domain_is_refused_with_403_like_resend() -> None:
    with running_sandbox(unverified_domains=["Unverified.Example"]) as server:
        response = send(server, from_=f"News <news@{UNVERIFIED}>")
        assert response.status_code == 403
        assert response.json()["name"] == "validation_error"
        assert f"The {UNVERIFIED} domain is not verified" in response.json()["message"]
        assert send(server, from_="news@verified.example").status_code == 200
        # A batch with one such sender is refused whole, in either mode.
        items = [sample_email(), sample_email(from_=f"news@{UNVERIFIED}")]
        for mode in ("strict", "permissive"):
            answer = batch(server, items, mode)
            assert answer.status_code == 403
            assert answer.json()["name"] == "validation_error"
        assert len(server.state.emails()) == 1


def test_unverified_domains_are_configurable_at_runtime(server, ctl) -> None:
    assert ctl.configure(unverified_domains=[UNVERIFIED])["unverified_domains"] == [UNVERIFIED]
    assert send(server, from_=f"news@{UNVERIFIED}").status_code == 403
    with pytest.raises(ValueError, match="unverified_domains must be a list"):
        ctl.configure(unverified_domains=UNVERIFIED)
    with pytest.raises(ValueError, match="non-empty strings"):
        ctl.configure(unverified_domains=[""])
    ctl.configure(unverified_domains=[])
    assert send(server, from_=f"news@{UNVERIFIED}").status_code == 200
