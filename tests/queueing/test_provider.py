"""The provider interface: Resend satisfies it, MAILHUB_PROVIDER picks the implementation the
worker sends through, a wrong setting fails clearly, and only Resend's package speaks Resend."""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from queueing.models import Message, MessageStatus
from queueing.outcomes import BatchAccepted, BatchOutcome, SendOutcome, Sent
from queueing.provider import Provider, get_provider
from queueing.resend import client, limits
from queueing.resend.payload import build_payload
from queueing.resend.provider import ResendProvider
from queueing.services import AttachmentInput, message_create, messages_create_many

ROOT = Path(__file__).resolve().parents[2]


class Recording:
    """A test-only provider: accepts everything and remembers what it was asked to send."""

    name = "Recording"
    max_batch = 100
    batch_allows_attachments = False
    calls: list[tuple[str, list[str], str]] = []

    def send_one(self, message: Message) -> SendOutcome:
        self.calls.append(("one", [message.subject], message.idempotency_key))
        return Sent(f"rec-{message.pk}")

    def send_batch(self, messages: list[Message], *, idempotency_key: str) -> BatchOutcome:
        self.calls.append(("batch", [m.subject for m in messages], idempotency_key))
        return BatchAccepted([Sent(f"rec-{m.pk}") for m in messages])


class NotAProvider:
    name = "half"


class NeedsArguments(Recording):
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key


def test_resend_provider_satisfies_the_interface():
    provider = ResendProvider()
    assert isinstance(provider, Provider)
    assert provider.name == "Resend"
    assert provider.max_batch == limits.MAX_BATCH_SIZE
    assert provider.batch_allows_attachments is limits.BATCH_ALLOWS_ATTACHMENTS is False


def test_resend_is_the_default_and_there_is_one_per_process(settings):
    assert settings.MAILHUB_PROVIDER == "queueing.resend.provider.ResendProvider"
    assert isinstance(get_provider(), ResendProvider)
    assert get_provider() is get_provider()


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_through_the_configured_provider(settings, deliver_all):
    settings.MAILHUB_PROVIDER = f"{__name__}.Recording"
    Recording.calls.clear()
    assert isinstance(get_provider(), Recording)
    alone = message_create(to=["ada@example.com"], subject="alone", text="x")
    deliver_all()
    messages_create_many(
        [{"to": [f"u{i}@example.com"], "subject": f"b{i}", "text": "x"} for i in range(3)]
    )
    deliver_all()
    assert {m.status for m in Message.objects.all()} == {MessageStatus.SENT}
    assert Message.objects.get(pk=alone.pk).provider_id == f"rec-{alone.pk}"
    sent = sorted(s for _, subjects, _ in Recording.calls for s in subjects)
    assert sent == ["alone", "b0", "b1", "b2"]
    assert {kind for kind, _, _ in Recording.calls} == {"one", "batch"}


@pytest.mark.parametrize(
    "path",
    [
        "queueing.no_such_module.Provider",
        "queueing.resend.provider.NoSuchClass",
        "not-a-dotted-path",
        f"{__name__}.NotAProvider",
        f"{__name__}.NeedsArguments",
    ],
)
def test_a_bad_setting_is_refused_with_its_name(settings, path):
    settings.MAILHUB_PROVIDER = path
    with pytest.raises(ImproperlyConfigured, match="MAILHUB_PROVIDER") as refused:
        get_provider()
    assert path in str(refused.value)


@pytest.mark.django_db
def test_resend_provider_builds_the_bodies_from_the_rows(monkeypatch):
    """One message goes with its attachments under its own key; a batch goes in the given
    order, without attachments, under the batch's key: the bodies payload.py builds."""
    calls = []
    monkeypatch.setattr(
        client, "send_email", lambda body, **kw: calls.append((body, kw)) or Sent("s")
    )
    monkeypatch.setattr(
        client, "send_batch", lambda bodies, **kw: calls.append((bodies, kw)) or Sent("b")
    )
    attachment = AttachmentInput("a.txt", b"42", "text/plain")
    first = message_create(to=["a@example.com"], subject="1", text="x", attachments=[attachment])
    second = message_create(to=["b@example.com"], subject="2", text="y")
    provider = ResendProvider()

    provider.send_one(first)
    provider.send_batch([second, first], idempotency_key="batch-key")

    assert calls[0] == (build_payload(first), {"idempotency_key": first.idempotency_key})
    assert "attachments" in calls[0][0]
    bodies = [build_payload(m, include_attachments=False) for m in (second, first)]
    assert calls[1] == (bodies, {"idempotency_key": "batch-key"})


def test_no_product_module_outside_the_resend_package_imports_the_sdk():
    package = ROOT / "queueing" / "resend"
    sandbox = ROOT / "queueing" / "sandbox"  # a development tool, moving out of queueing
    offenders = []
    for app in ("mailhub", "queueing", "recipients", "campaigns"):
        for path in (ROOT / app).rglob("*.py"):
            if path.is_relative_to(package) or path.is_relative_to(sandbox):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                if any(n == "resend" or n.startswith("resend.") for n in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
