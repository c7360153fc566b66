"""The Message state machine: every row of the transition tables is reachable through a
service, every status change is one of them, and nothing else writes a status."""

import ast
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from queueing import claims, reconciler, recording, state_machine
from queueing.claims import BatchClaim, MessageClaim
from queueing.exceptions import IllegalTransition
from queueing.models import BatchStatus, Message, MessageStatus, Priority, SendBatch
from queueing.outcomes import BatchAccepted, IdempotencyConflict, Rejected, Sent, Transient
from queueing.provider_events.processing import process_pending
from queueing.provider_events.store import webhook_event_store
from queueing.recording import dropped
from queueing.services import message_cancel, message_create, message_retry

pytestmark = pytest.mark.django_db

S = MessageStatus
B = BatchStatus
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def moves(monkeypatch) -> list[tuple[str | None, str]]:
    """Every (from, to) the state machine is asked to allow, in order."""
    seen: list[tuple[str | None, str]] = []
    original = state_machine.check

    def spy(from_, to, *, table=state_machine.TRANSITIONS):
        froms = (None,) if from_ is None else state_machine._froms(from_)
        seen.extend((f, to) for f in froms if f != to)
        return original(from_, to, table=table)

    monkeypatch.setattr(state_machine, "check", spy)
    return seen


def new(**fields) -> Message:
    return message_create(to=["walk@example.com"], subject="Walk", text="Hello", **fields)


def claimed(message: Message | None = None) -> MessageClaim:
    message = message or new()
    token, taken = claims.claim_messages(Priority.TRANSACTIONAL, alone=False, limit=1, worker="t")
    assert [m.pk for m in taken] == [message.pk]
    return MessageClaim(taken[0], token)


def frozen(size: int = 2) -> BatchClaim:
    for _ in range(size):
        new()
    token, taken = claims.claim_messages(
        Priority.TRANSACTIONAL, alone=False, limit=size, worker="t"
    )
    return claims.freeze_batch(token, taken, worker="t", rendered=[])


def status(message: Message) -> str:
    return Message.objects.get(pk=message.pk).status


# One scenario per row of TRANSITIONS: it reaches the row through services only.
def created_queued() -> str:
    return status(new())


def created_scheduled() -> str:
    return status(new(scheduled_at=timezone.now() + timedelta(hours=1)))


def scheduled_queued() -> str:
    message = new(scheduled_at=timezone.now() + timedelta(hours=1))
    Message.objects.filter(pk=message.pk).update(scheduled_at=timezone.now())  # time passes
    assert reconciler.release_due_scheduled() == 1
    return status(message)


def scheduled_cancelled() -> str:
    message = new(scheduled_at=timezone.now() + timedelta(hours=1))
    assert message_cancel(message=message)
    return status(message)


def queued_cancelled() -> str:
    message = new()
    assert message_cancel(message=message)
    return status(message)


def queued_sending() -> str:
    return status(claimed().message)


def sending_sent() -> str:
    claim = claimed()
    assert recording.record_outcome(claim, Sent("re_1")) == "sent"
    return status(claim.message)


def sending_queued() -> str:
    claim = claimed()
    assert recording.record_outcome(claim, Transient("500 busy")) == "retry"
    return status(claim.message)


def sending_failed() -> str:
    claim = claimed()
    assert recording.record_outcome(claim, Rejected("422 validation_error")) == "failed"
    return status(claim.message)


def sending_suppressed() -> str:
    claim = claimed()
    dropped.suppressed(claim.token, [claim.message], {claim.message.pk: "bounced"})
    return status(claim.message)


def failed_queued() -> str:
    claim = claimed()
    recording.record_outcome(claim, Rejected("422 validation_error"))
    assert message_retry(message=Message.objects.get(pk=claim.message.pk))
    return status(claim.message)


def provider_move(from_: str, to: str):
    """A sent message taken to `from_` by a provider event, then to `to` by another, each
    stored as a webhook and processed as the workers do."""

    def scenario() -> str:
        claim = claimed()
        provider_id = f"re_{uuid.uuid4().hex}"
        recording.record_outcome(claim, Sent(provider_id))
        for kind in [from_, to] if from_ != S.SENT else [to]:
            event = {"type": f"email.{kind}", "data": {"email_id": provider_id}}
            webhook_event_store(svix_id=f"msg_{uuid.uuid4().hex}", event=event)
            assert process_pending().processed == 1
        return status(claim.message)

    return scenario


SCENARIOS = {
    (None, S.QUEUED): created_queued,
    (None, S.SCHEDULED): created_scheduled,
    (S.SCHEDULED, S.QUEUED): scheduled_queued,
    (S.SCHEDULED, S.CANCELLED): scheduled_cancelled,
    (S.QUEUED, S.CANCELLED): queued_cancelled,
    (S.QUEUED, S.SENDING): queued_sending,
    (S.SENDING, S.SENT): sending_sent,
    (S.SENDING, S.QUEUED): sending_queued,
    (S.SENDING, S.FAILED): sending_failed,
    (S.SENDING, S.SUPPRESSED): sending_suppressed,
    (S.FAILED, S.QUEUED): failed_queued,
    # Provider events: every move up the ranking.
    **{
        pair: provider_move(*pair)
        for pair, made_by in state_machine.TRANSITIONS.items()
        if made_by == state_machine.PROVIDER_MOVE
    },
}


def test_every_transition_has_a_scenario():
    assert set(SCENARIOS) == set(state_machine.TRANSITIONS)


@pytest.mark.parametrize("transition", list(SCENARIOS), ids=lambda t: f"{t[0]}->{t[1]}")
def test_each_transition_is_reached_through_a_service(transition, moves):
    assert SCENARIOS[transition]() == transition[1]
    assert transition in moves
    # Whatever else the scenario did on the way is in the table too.
    assert set(moves) <= set(state_machine.TRANSITIONS) | set(state_machine.BATCH_TRANSITIONS)


def batch_status(claim: BatchClaim) -> str:
    return SendBatch.objects.get(pk=claim.batch.pk).status


def batch_created() -> str:
    return batch_status(frozen())


def batch_due_again() -> str:
    claim = frozen()
    recording.record_outcome(claim, Transient("500 busy"))
    SendBatch.objects.filter(pk=claim.batch.pk).update(next_attempt_at=timezone.now())
    again = claims.claim_due_batch(Priority.TRANSACTIONAL, worker="t")
    assert again is not None and again.batch.pk == claim.batch.pk
    return batch_status(claim)


def batch_done() -> str:
    claim = frozen()
    recording.record_outcome(claim, BatchAccepted([Sent("re_1"), Rejected("bad to")]))
    assert [status(m) for m in claim.members] == [S.SENT, S.FAILED]
    return batch_status(claim)


def batch_retry() -> str:
    claim = frozen()
    assert recording.record_outcome(claim, Transient("500 busy")) == "retry"
    assert {status(m) for m in claim.members} == {S.QUEUED}
    return batch_status(claim)


def batch_failed() -> str:
    claim = frozen()
    assert recording.record_outcome(claim, IdempotencyConflict("409")) == "failed"
    assert {status(m) for m in claim.members} == {S.FAILED}
    return batch_status(claim)


def batch_split() -> str:
    claim = frozen()
    assert recording.record_outcome(claim, Rejected("422 validation_error")) == "split"
    assert {status(m) for m in claim.members} == {S.QUEUED}
    return batch_status(claim)


BATCH_SCENARIOS = {
    (None, B.SENDING): batch_created,
    (B.QUEUED, B.SENDING): batch_due_again,
    (B.SENDING, B.DONE): batch_done,
    (B.SENDING, B.QUEUED): batch_retry,
    (B.SENDING, B.FAILED): batch_failed,
    (B.SENDING, B.SPLIT): batch_split,
}


def test_every_batch_transition_has_a_scenario():
    assert set(BATCH_SCENARIOS) == set(state_machine.BATCH_TRANSITIONS)


@pytest.mark.parametrize("transition", list(BATCH_SCENARIOS), ids=lambda t: f"{t[0]}->{t[1]}")
def test_each_batch_transition_is_reached_through_a_service(transition, moves):
    assert BATCH_SCENARIOS[transition]() == transition[1]
    assert transition in moves
    assert set(moves) <= set(state_machine.TRANSITIONS) | set(state_machine.BATCH_TRANSITIONS)


def test_a_transition_outside_the_table_is_refused_and_changes_nothing():
    claim = claimed()
    recording.record_outcome(claim, Sent("re_1"))
    with pytest.raises(IllegalTransition, match="sent → queued"):
        state_machine.move(Message.objects.filter(pk=claim.message.pk), S.QUEUED, from_=S.SENT)
    assert status(claim.message) == S.SENT
    with pytest.raises(IllegalTransition):
        state_machine.check_created(S.SENT)


def test_a_guarded_move_skips_rows_not_in_the_from_status():
    message = new()
    moved = state_machine.move(Message.objects.filter(pk=message.pk), S.QUEUED, from_=S.FAILED)
    assert moved == 0 and status(message) == S.QUEUED


# --- nothing else writes a status -----------------------------------------------------------

PRODUCT = ("mailhub", "queueing", "recipients", "campaigns")
QUEUE_MODELS = {"Message", "MessageEvent", "SendBatch", "MessageAttachment"}


def _product_files():
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def status_writes(tree: ast.AST) -> list[int]:
    """Lines of `.update(status=…)` calls and of `update_rows(…)` calls."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute | ast.Name):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        if name == "update" and any(k.arg == "status" for k in node.keywords):
            lines.append(node.lineno)
        if name == "update_rows" and node.args and getattr(node.args[0], "id", "") == "Message":
            lines.append(node.lineno)
    return lines


WRITES = {"update", "create", "bulk_create", "delete", "get_or_create", "update_or_create"}


def _root(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def queue_model_writes(tree: ast.AST) -> list[int]:
    """Lines of write calls (`Message.objects….update(…)` and the like) on queue models."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WRITES
        and _root(node.func) in QUEUE_MODELS
    ]


def test_only_the_state_machine_writes_message_statuses():
    offenders = []
    for path in _product_files():
        relative = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(), filename=relative)
        if relative.startswith("queueing/") and relative != "queueing/state_machine.py":
            model_updates = [
                line
                for line in status_writes(tree)
                if relative != "queueing/holds.py"  # HeldCampaign has no status
                # WebhookDelivery's status is its own (pending, delivered, failed), not a
                # Message's; the forwarding package writes no Message.
                and not relative.startswith("queueing/forwarding/")
            ]
            offenders += [f"{relative}:{line}" for line in model_updates]
        if not relative.startswith("queueing/"):
            offenders += [f"{relative}:{line} (a queue model)" for line in queue_model_writes(tree)]
    assert not offenders, "status writes outside queueing.state_machine: " + ", ".join(offenders)


def test_the_write_finders_find_them():
    tree = ast.parse(
        "Message.objects.filter(pk=1).update(status='sent')\nupdate_rows(Message, (), {})\n"
        "MessageEvent.objects.bulk_create([])\n"
    )
    assert status_writes(tree) == [1, 2]
    assert queue_model_writes(tree) == [1, 3]
