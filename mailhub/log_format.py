"""How log lines look: plain or JSON (LOG_FORMAT), and never with a secret in them.

`JsonFormatter` writes one JSON object per line: time, level, logger, message, the fields a
module put in the record's `mailhub` attribute (the provider request line's kind, outcome,
status, duration_ms, …) and the traceback. A dozen lines of our own rather than
python-json-logger: nothing to configure, one dependency fewer, and the field names are ours.

`RedactSecrets` is a handler filter (so it sees every record, whichever logger made it):
Resend API keys (`re_…`), webhook signing secrets (`whsec_…`) and the value of any
Authorization header or bearer token are replaced before a formatter sees the message or
the traceback.
"""

import json
import logging
import re
from datetime import UTC, datetime

_SECRETS = (
    # Resend API keys: re_ followed by the key's characters.
    (re.compile(r"\bre_[A-Za-z0-9_]{6,}"), "re_[redacted]"),
    # Svix/Resend webhook secrets.
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]{6,}"), "whsec_[redacted]"),
    # An Authorization header as a dict item, a header line or a repr: keep the name.
    (
        re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)(?:bearer\s+|basic\s+)?[^'"\s,}]+"""),
        r"\1[redacted]",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatted here so the traceback's text (an exception's message) is redacted too;
            # formatters use exc_text when it is set.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "mailhub", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)
