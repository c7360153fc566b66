"""Resend's request rules (queueing/resend: rules, errors, idempotency) as plain functions.

tests/sandbox checks the same rules through the sandbox's HTTP answers, and
test_resend_schema.py checks mailhub's requests against Resend's published description.
"""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from queueing import validation
from queueing.resend import errors, idempotency, rules
from queueing.resend.idempotency import KeyState
from queueing.resend.limits import (
    MAX_BATCH_SIZE,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_RECIPIENTS,
    MAX_TAG_LENGTH,
)

ROOT = Path(__file__).resolve().parents[2]


def email(**overrides: Any) -> dict[str, Any]:
    """A valid SendEmailRequest; a None override removes the field."""
    item: dict[str, Any] = {
        "from": "Acme <news@acme.example.com>",
        "to": ["ada@example.com"],
        "subject": "Hello",
        "html": "<p>Hello</p>",
    }
    for name, value in overrides.items():
        name = name.removesuffix("_")
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    return item


def test_the_rules_need_no_django() -> None:
    code = (
        "import sys; import queueing.resend.rules, queueing.resend.errors, "
        "queueing.resend.idempotency; print('django' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- errors ---


def test_every_error_name_has_its_status_and_the_body_is_resends() -> None:
    names = {
        value for key, value in vars(errors).items() if key.isupper() and isinstance(value, str)
    }
    assert names == set(errors.STATUS_CODES)
    error = errors.invalid_api_key()
    assert error.body() == {
        "statusCode": 403,
        "name": "invalid_api_key",
        "message": "API key is invalid.",
    }
    assert error.with_message("Other.").body()["message"] == "Other."


@pytest.mark.parametrize(
    ("error", "status", "name"),
    [
        (errors.missing_field("to"), 422, "missing_required_field"),
        (errors.validation_error("x"), 422, "validation_error"),
        (errors.invalid_json(), 400, "validation_error"),
        (errors.missing_api_key(), 401, "missing_api_key"),
        (errors.not_found(), 404, "not_found"),
        (errors.method_not_allowed(), 405, "method_not_allowed"),
        (errors.invalid_idempotency_key(), 400, "invalid_idempotency_key"),
        (errors.invalid_idempotent_request(), 409, "invalid_idempotent_request"),
        (errors.concurrent_idempotent_requests(), 409, "concurrent_idempotent_requests"),
        (errors.rate_limit_exceeded(), 429, "rate_limit_exceeded"),
        (errors.daily_quota_exceeded(), 429, "daily_quota_exceeded"),
        (errors.internal_server_error(), 500, "internal_server_error"),
    ],
)
def test_error_statuses(error: errors.ResendError, status: int, name: str) -> None:
    assert (error.status, error.name) == (status, name)


# --- one email ---


def test_a_valid_email_has_no_error() -> None:
    assert rules.email_error(email(), in_batch=False) is None
    assert rules.email_error(email(), in_batch=True) is None


@pytest.mark.parametrize(
    ("overrides", "name", "message"),
    [
        ({"subject": None}, "missing_required_field", "Missing `subject` field."),
        ({"html": None}, "missing_required_field", "Missing `html` or `text` field."),
        ({"from_": "nobody"}, "invalid_from_address", "Invalid `from` field."),
        ({"to": []}, "validation_error", "at least one address"),
        ({"cc": "bad@"}, "validation_error", "Invalid `cc` field."),
        ({"subject": "a\r\nBcc: x@example.com"}, "validation_error", "line breaks"),
        ({"headers": {"X-A": "a\nb"}}, "validation_error", "without line breaks"),
        ({"headers": {"X-A/B": "v"}}, "validation_error", "not a valid header name"),
        ({"tags": [{"name": "a b", "value": "v"}]}, "validation_error", "Invalid tag name"),
        ({"react": "<Email/>"}, "validation_error", "Unknown field `react`"),
        ({"attachments": [{"content": "aGk="}]}, "missing_required_field", "filename"),
    ],
)
def test_the_first_problem_is_named_in_resends_words(
    overrides: dict[str, Any], name: str, message: str
) -> None:
    error = rules.email_error(email(**overrides), in_batch=False)
    assert error is not None
    assert (error.status, error.name) == (422, name)
    assert message in error.message


def test_recipient_and_tag_limits_come_from_limits() -> None:
    to = [f"u{i}@example.com" for i in range(MAX_RECIPIENTS)]
    assert rules.email_error(email(to=to), in_batch=False) is None
    error = rules.email_error(email(to=[*to, "one@example.com"]), in_batch=False)
    assert error is not None and f"at most {MAX_RECIPIENTS} addresses" in error.message
    assert rules.is_tag_part("t" * MAX_TAG_LENGTH)
    assert not rules.is_tag_part("t" * (MAX_TAG_LENGTH + 1))


@pytest.mark.parametrize("field", ["attachments", "scheduled_at"])
def test_batch_members_may_not_carry(field: str) -> None:
    value = [{"filename": "a.txt", "content": "aGk="}] if field == "attachments" else "in 1 hour"
    assert rules.email_error(email(**{field: value}), in_batch=False) is None
    error = rules.email_error(email(**{field: value}), in_batch=True)
    assert error is not None
    assert error.message == f"The `{field}` field is not supported for batch emails."


def test_the_shape_check_only_wants_an_object() -> None:
    assert rules.email_shape_error({"anything": 1}) is None
    error = rules.email_shape_error(["not", "an", "object"])
    assert error is not None and error.name == "validation_error"
    assert rules.email_error("text", in_batch=False) == error


# --- a batch ---


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"to": "a@example.com"}, "JSON array"),
        ([], "between 1 and 100 emails; this one has 0"),
        ([email()] * (MAX_BATCH_SIZE + 1), f"this one has {MAX_BATCH_SIZE + 1}"),
    ],
)
def test_batch_envelope(payload: Any, fragment: str) -> None:
    error = rules.batch_error(payload)
    assert error is not None and error.status == 422
    assert fragment in error.message


def test_full_batch_is_fine_and_a_strict_refusal_names_the_index() -> None:
    assert rules.batch_error([email()] * MAX_BATCH_SIZE) is None
    error = rules.batch_item_error(3, errors.missing_field("to"))
    assert error.body() == {
        "statusCode": 422,
        "name": "missing_required_field",
        "message": "Email at index 3: Missing `to` field.",
    }


@pytest.mark.parametrize(
    ("header", "mode"),
    [(None, "strict"), ("", "strict"), (" Permissive ", "permissive"), ("STRICT", "strict")],
)
def test_batch_mode(header: str | None, mode: str) -> None:
    assert rules.batch_mode(header) == mode


def test_unknown_batch_mode() -> None:
    assert rules.batch_mode("lenient") is None
    assert "`x-batch-validation` header" in rules.invalid_batch_mode().message


# --- PATCH /emails/{id} ---


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ([], "JSON object"),
        ({"scheduled_at": "in 1 hour", "subject": "x"}, "Unknown field `subject`"),
        ({"scheduled_at": "in 1 hour", "id": "other"}, "does not match"),
        ({}, "Missing `scheduled_at` field."),
        ({"scheduled_at": " "}, "non-empty string"),
    ],
)
def test_update_errors(payload: Any, fragment: str) -> None:
    error = rules.update_error(payload, "e-1")
    assert error is not None and fragment in error.message


def test_update_with_matching_id_is_fine() -> None:
    assert rules.update_error({"scheduled_at": "in 1 hour", "id": "e-1"}, "e-1") is None


# --- predicates ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("Ada <ada@example.com>", "ada@example.com"),
        ("<ada@example.com>", "ada@example.com"),
        ('"A, B" <ada@example.com>', "ada@example.com"),
        ('"A \\"B\\" \\\\ C" <ada@example.com>', "ada@example.com"),
        ('"A "B" <ada@example.com>', None),
        ("ada@example", None),
        ("ada example.com", None),
        ("a@b.com, c@d.com", None),
        ("Ada <ada@example.com>\r\n", None),
        ("", None),
    ],
)
def test_address_of(value: str, expected: str | None) -> None:
    assert rules.address_of(value) == expected


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("X-Entity-Ref-ID", True),
        ("List-Unsubscribe", True),
        ("x_custom.1", True),
        ("", False),
        ("Bad Name", False),
        ("X-A:B", False),
        ("X-A/B", False),
        ("X-A\n", False),
        ("Ünicode", False),
        (42, False),
    ],
)
def test_header_names(name: object, valid: bool) -> None:
    assert rules.is_header_name(name) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("campaign_42", True),
        ("a-b", True),
        ("", False),
        ("a b", False),
        ("ü", False),
        ("a\n", False),
    ],
)
def test_tag_parts(value: object, valid: bool) -> None:
    assert rules.is_tag_part(value) is valid


# --- Idempotency-Key ---


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        (None, True),
        ("k", True),
        ("k" * MAX_IDEMPOTENCY_KEY_LENGTH, True),
        ("", False),
        ("k" * (MAX_IDEMPOTENCY_KEY_LENGTH + 1), False),
    ],
)
def test_idempotency_key_length(key: str | None, valid: bool) -> None:
    error = idempotency.key_error(key)
    assert (error is None) is valid
    if error is not None:
        assert error.body() == {
            "statusCode": 400,
            "name": "invalid_idempotency_key",
            "message": "The key must be between 1-256 chars.",
        }


def test_same_key_same_request_replays_other_request_conflicts() -> None:
    first = idempotency.fingerprint("POST", "/emails", "sha-a")
    other_body = idempotency.fingerprint("POST", "/emails", "sha-b")
    other_path = idempotency.fingerprint("POST", "/emails/batch", "sha-a")
    assert len({first, other_body, other_path}) == 3
    assert idempotency.key_state(None, first, answered=False) is KeyState.NEW
    assert idempotency.key_state(first, first, answered=True) is KeyState.REPLAY
    assert idempotency.key_state(first, first, answered=False) is KeyState.IN_FLIGHT
    assert idempotency.key_state(first, other_body, answered=True) is KeyState.MISMATCH
    assert idempotency.key_state(first, other_path, answered=False) is KeyState.MISMATCH


def test_conflicts_answer_409_and_only_successes_are_remembered() -> None:
    mismatch = idempotency.conflict_error(KeyState.MISMATCH)
    in_flight = idempotency.conflict_error(KeyState.IN_FLIGHT)
    assert mismatch == errors.invalid_idempotent_request()
    assert in_flight == errors.concurrent_idempotent_requests()
    assert idempotency.conflict_error(KeyState.NEW) is None
    assert idempotency.conflict_error(KeyState.REPLAY) is None
    assert idempotency.remembers(200)
    assert not idempotency.remembers(422)
    assert not idempotency.remembers(500)
    assert idempotency.KEY_TTL_SECONDS == 24 * 60 * 60


# --- queueing.validation words the same rules for people ---


@pytest.mark.parametrize("name", ["X-Entity-Ref-ID", "X-A/B", "Bad Name", "X-A:B", "X-A\n", "Ü"])
def test_mailhub_accepts_exactly_the_header_names_resend_does(name: str) -> None:
    if rules.is_header_name(name):
        assert validation.validate_headers({name: "v"}) == {name: "v"}
    else:
        with pytest.raises(ValidationError, match="is not a valid header name"):
            validation.validate_headers({name: "v"})


@pytest.mark.parametrize("part", ["kind", "a b", "a\n", "t" * MAX_TAG_LENGTH, "t" * 257])
def test_mailhub_accepts_exactly_the_tags_resend_does(part: str) -> None:
    tags = [{"name": part, "value": part}]
    if rules.is_tag_part(part):
        assert validation.validate_tags(tags) == tags
    else:
        with pytest.raises(ValidationError, match=r"may only contain .* \(1 to 256 characters\)"):
            validation.validate_tags(tags)


def test_mailhub_caps_recipients_where_resend_does() -> None:
    to = [f"u{i}@example.com" for i in range(MAX_RECIPIENTS + 1)]
    assert len(validation.normalise_addresses(to[:-1], "to")) == MAX_RECIPIENTS
    with pytest.raises(ValidationError, match=f"Resend accepts at most {MAX_RECIPIENTS}"):
        validation.normalise_addresses(to, "to")
