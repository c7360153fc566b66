"""Logs: a line per provider request, plain or JSON (LOG_FORMAT), RQ's per-job lines under
RQ_LOG_LEVEL, and no secret ever written, checked on a real worker's output."""

import io
import json
import logging

import pytest

from mailhub.log_format import JsonFormatter, RedactSecrets
from queueing.models import PENDING_STATUSES, Message
from queueing.services import message_create
from tests.conftest import wait_until

KEY = "re_AbC123dEf456GhI789jKl"
WEBHOOK_SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAwMDE="


def formatted(formatter: logging.Formatter, *args, exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("tests.redaction")
    logger.propagate, logger.level = False, logging.DEBUG
    logger.addHandler(handler)
    try:
        if exc is not None:
            try:
                raise exc
            except type(exc):
                logger.exception(*args)
        else:
            logger.info(*args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize(
    "formatter", [logging.Formatter("%(levelname)s %(message)s"), JsonFormatter()]
)
def test_secrets_are_redacted(formatter) -> None:
    lines = [
        formatted(formatter, "configured with key %s", KEY),
        formatted(formatter, "signing with %s", WEBHOOK_SECRET),
        formatted(formatter, "headers: %r", {"Authorization": f"Bearer {KEY}", "X-Other": "ok"}),
        formatted(formatter, "curl -H 'authorization: Bearer abc.def-ghi'"),
        formatted(formatter, "sent with Bearer mh_live_secret_token_value"),
        formatted(formatter, "the call failed", exc=RuntimeError(f"bad key {KEY}")),
    ]
    text = "".join(lines)
    for secret in (KEY, WEBHOOK_SECRET, "abc.def-ghi", "mh_live_secret_token_value"):
        assert secret not in text, text
    assert "re_[redacted]" in lines[0] and "whsec_[redacted]" in lines[1]
    assert "X-Other" in lines[2] and "RuntimeError" in lines[5]  # the rest is kept


def test_json_lines_carry_the_fields_and_the_cause() -> None:
    line = formatted(JsonFormatter(), "the call failed", exc=ValueError("why"))
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "tests.redaction"
    assert "ValueError: why" in entry["exc_info"]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.mailhub = {"outcome": "sent", "status": 200, "message": "ignored: the message wins"}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["outcome"] == "sent" and entry["status"] == 200 and entry["message"] == "m"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_json_lines_and_rq_log_level(sandbox, start_worker, tmp_path) -> None:
    """LOG_FORMAT=json: every line parses. RQ_LOG_LEVEL=INFO brings RQ's per-job lines back
    (so the default's silence, tested in test_metrics, is this setting's doing)."""
    start_worker(LOG_FORMAT="json", RQ_LOG_LEVEL="INFO", LOG_LEVEL="DEBUG")
    for n in range(2):
        message_create(to=[f"json{n}@example.com"], subject="Hi", text="Hello")
    assert wait_until(lambda: not Message.objects.filter(status__in=PENDING_STATUSES).exists(), 20)
    # RQ's "Job OK" comes after the job's last write: wait for it too.
    assert wait_until(lambda: "Job OK" in (tmp_path / "worker-0.log").read_text(), 10)
    lines = [line for line in (tmp_path / "worker-0.log").read_text().splitlines() if line]
    entries = [json.loads(line) for line in lines]  # every line is JSON
    requests = [e for e in entries if e["logger"] == "queueing.requests" and e["level"] == "INFO"]
    assert requests and all(e["outcome"] == "sent" and e["status"] == 200 for e in requests)
    assert all(isinstance(e["duration_ms"], float) for e in requests)
    assert sum(e["messages"] for e in requests) == 2
    assert any(e["logger"] == "rq.worker" and "Job OK" in e["message"] for e in entries)
    assert KEY not in "".join(lines) and "re_test_key" not in "".join(lines)
