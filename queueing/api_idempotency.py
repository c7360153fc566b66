"""`Idempotency-Key` for the HTTP API's send endpoints, kept in the database for 24 hours.

The rules are Resend's (`queueing.resend.idempotency`): same key and same request → the first
answer again, nothing new queued; same key, another request → 409 invalid_idempotent_request;
the first still running → 409 concurrent_idempotent_requests; only a 2xx is kept, an error
frees the key. Keys are per API key.

How it stays right under races and crashes:
- the request claims the key by INSERTing an in-progress row (committed at once); of two at
  once the unique constraint lets one win, and the other reads the winner's row (→ 409);
- the answer is stored in the same transaction that creates the messages, and only while the
  row still carries this request's token: an answer is stored exactly when its messages are;
- a request that died holding the key (a worker killed mid-request) leaves an in-progress row
  and no messages; after STALE_AFTER another request with the key takes the row over. Should
  the first one still finish later, its completion finds another token and rolls back.
"""

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from queueing.api_errors import ApiRefused
from queueing.models import ApiIdempotencyKey, ApiKey, IdempotencyState
from queueing.resend import errors, idempotency
from queueing.resend.idempotency import KeyState

HEADER = "Idempotency-Key"
TTL = timedelta(seconds=idempotency.KEY_TTL_SECONDS)
# A request holds its key this long at most; after it, the holder is taken for dead.
STALE_AFTER = timedelta(minutes=2)

Answer = tuple[int, Any]  # status code, JSON body


@dataclass(frozen=True)
class _Claim:
    row_id: int | None = None
    token: uuid.UUID | None = None
    replay: Answer | None = None


class _LostKey(Exception):
    """The key was taken over while this request ran: its work is rolled back."""


def run_idempotent(
    request: HttpRequest, api_key: ApiKey, operation: Callable[[], Answer]
) -> tuple[Answer, bool]:
    """Run `operation` (which writes, and raises ApiRefused to refuse) in one transaction,
    under the request's Idempotency-Key if it has one. Returns (answer, replayed)."""
    key = request.headers.get(HEADER)
    if key is None:
        with transaction.atomic():
            return operation(), False
    if (error := idempotency.key_error(key)) is not None:
        raise ApiRefused(error)
    fingerprint = idempotency.fingerprint(
        request.method or "", request.path, hashlib.sha256(request.body).hexdigest()
    )
    claim = _claim(api_key, key, fingerprint)
    if claim.replay is not None:
        return claim.replay, True
    try:
        with transaction.atomic():
            status, body = operation()
            if idempotency.remembers(status):
                done = ApiIdempotencyKey.objects.filter(
                    pk=claim.row_id, token=claim.token, state=IdempotencyState.IN_PROGRESS
                ).update(state=IdempotencyState.DONE, status_code=status, answer=body)
                if not done:
                    raise _LostKey
    except _LostKey:
        raise ApiRefused(errors.concurrent_idempotent_requests()) from None
    except BaseException:
        _release(claim)
        raise
    if not idempotency.remembers(status):
        _release(claim)
    return (status, body), False


def _claim(api_key: ApiKey, key: str, fingerprint: str) -> _Claim:
    for _ in range(3):
        now = timezone.now()
        token = uuid.uuid4()
        try:
            with transaction.atomic():
                row = ApiIdempotencyKey.objects.create(
                    api_key=api_key,
                    key=key,
                    fingerprint=fingerprint,
                    state=IdempotencyState.IN_PROGRESS,
                    token=token,
                    created_at=now,
                )
            return _Claim(row_id=row.pk, token=token)
        except IntegrityError:
            pass
        held = ApiIdempotencyKey.objects.filter(api_key=api_key, key=key).first()
        if held is None:  # released in between: try again
            continue
        expired = held.created_at < now - TTL
        abandoned = (
            held.state == IdempotencyState.IN_PROGRESS and held.created_at < now - STALE_AFTER
        )
        if expired or abandoned:
            # Conditional on what was read, so of two takers one deletes and both retry.
            ApiIdempotencyKey.objects.filter(
                pk=held.pk, token=held.token, state=held.state
            ).delete()
            continue
        state = idempotency.key_state(
            held.fingerprint, fingerprint, answered=held.state == IdempotencyState.DONE
        )
        if (conflict := idempotency.conflict_error(state)) is not None:
            raise ApiRefused(conflict)
        assert state is KeyState.REPLAY
        return _Claim(replay=(held.status_code or 200, held.answer))
    raise ApiRefused(errors.concurrent_idempotent_requests())


def _release(claim: _Claim) -> None:
    ApiIdempotencyKey.objects.filter(
        pk=claim.row_id, token=claim.token, state=IdempotencyState.IN_PROGRESS
    ).delete()


PURGE_CHUNK = 5000


def idempotency_keys_purge() -> dict[str, int]:
    """Delete up to PURGE_CHUNK keys older than 24 hours (a reconcile step, bounded so a pass
    stays short): {"idempotency_keys_purged": n}."""
    old = ApiIdempotencyKey.objects.filter(created_at__lt=timezone.now() - TTL)
    ids = list(old.order_by("created_at").values_list("pk", flat=True)[:PURGE_CHUNK])
    deleted, _ = ApiIdempotencyKey.objects.filter(pk__in=ids).delete() if ids else (0, {})
    return {"idempotency_keys_purged": deleted}
