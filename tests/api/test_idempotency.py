"""Idempotency-Key on /emails and /emails/batch: kept in the database, per API key."""

import hashlib
import json
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from queueing.api_idempotency import STALE_AFTER, TTL, idempotency_keys_purge
from queueing.models import ApiIdempotencyKey, IdempotencyState, Message
from tests.api.conftest import ApiClient, assert_error, email

pytestmark = pytest.mark.django_db


def test_same_key_same_body_answers_the_first_answer_and_queues_nothing_new(api):
    headers = {"Idempotency-Key": "order-1"}
    first = api.post("/emails", email(), headers=headers)
    again = api.post("/emails", email(), headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert Message.objects.count() == 1
    assert ApiIdempotencyKey.objects.get().state == IdempotencyState.DONE


def test_batch_retry_is_replayed(api):
    headers = {"Idempotency-Key": "batch-1", "x-batch-validation": "permissive"}
    body = [email(), email(to="bad")]
    first = api.post("/emails/batch", body, headers=headers)
    assert api.post("/emails/batch", body, headers=headers).json() == first.json()
    assert Message.objects.count() == 1


def test_same_key_other_body_is_409(api):
    headers = {"Idempotency-Key": "order-2"}
    assert api.post("/emails", email(), headers=headers).status_code == 200
    response = api.post("/emails", email(subject="Other"), headers=headers)
    assert_error(response, 409, "invalid_idempotent_request")
    assert Message.objects.count() == 1


def test_key_still_in_progress_is_409_concurrent(api, send_key):
    body = json.dumps(email()).encode()
    # The same request, held by another one that has not finished.
    ApiIdempotencyKey.objects.create(
        api_key=send_key.api_key,
        key="order-3",
        fingerprint=f"POST /api/emails {hashlib.sha256(body).hexdigest()}",
        state=IdempotencyState.IN_PROGRESS,
        token=uuid.uuid4(),
        created_at=timezone.now(),
    )
    response = api.post("/emails", body, headers={"Idempotency-Key": "order-3"})
    assert_error(response, 409, "concurrent_idempotent_requests")
    assert not Message.objects.exists()


def test_abandoned_and_expired_keys_are_taken_over(api, send_key):
    for key, age in (("dead", STALE_AFTER), ("old", TTL)):
        ApiIdempotencyKey.objects.create(
            api_key=send_key.api_key,
            key=key,
            fingerprint="x",
            state=IdempotencyState.IN_PROGRESS if key == "dead" else IdempotencyState.DONE,
            token=uuid.uuid4(),
            created_at=timezone.now() - age - timezone.timedelta(seconds=1),
        )
        assert api.post("/emails", email(), headers={"Idempotency-Key": key}).status_code == 200
    assert Message.objects.count() == 2


def test_an_error_frees_the_key(api):
    headers = {"Idempotency-Key": "order-4"}
    assert api.post("/emails", email(to="bad"), headers=headers).status_code == 422
    assert not ApiIdempotencyKey.objects.exists()
    assert api.post("/emails", email(), headers=headers).status_code == 200


def test_keys_are_per_api_key(api, make_key):
    other = ApiClient(make_key(name="other").secret)
    headers = {"Idempotency-Key": "shared"}
    assert api.post("/emails", email(), headers=headers).status_code == 200
    assert other.post("/emails", email(subject="x"), headers=headers).status_code == 200
    assert Message.objects.count() == 2


@pytest.mark.parametrize("key", ["", "k" * 257])
def test_invalid_key_is_400(api, key):
    response = api.post("/emails", email(), headers={"Idempotency-Key": key})
    assert_error(response, 400, "invalid_idempotency_key")
    assert not Message.objects.exists()


def test_purge_deletes_only_expired_keys(send_key):
    for key, age in (("old", TTL + timezone.timedelta(minutes=1)), ("new", timezone.timedelta())):
        ApiIdempotencyKey.objects.create(
            api_key=send_key.api_key,
            key=key,
            fingerprint="x",
            state=IdempotencyState.DONE,
            token=uuid.uuid4(),
            created_at=timezone.now() - age,
        )
    assert idempotency_keys_purge() == {"idempotency_keys_purged": 1}
    assert list(ApiIdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_one_wins(send_key):
    """Several threads send the same request under one key at the same moment: exactly one
    message, every answer a 200 (the winner or its replay) or a 409 concurrent."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL's concurrency")
    barrier = threading.Barrier(6)
    answers: list = []

    def send() -> None:
        client = ApiClient(send_key.secret)
        barrier.wait()
        answers.append(client.post("/emails", email(), headers={"Idempotency-Key": "race"}))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    assert Message.objects.count() == 1
    ids = {a.json()["id"] for a in answers if a.status_code == 200}
    assert len(ids) == 1
    for a in answers:
        if a.status_code == 409:
            assert a.json()["name"] == "concurrent_idempotent_requests"
