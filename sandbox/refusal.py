"""`Refused`: an error answer raised anywhere in request handling and turned into JSON once.

The answer itself (status, Resend's error name and message) is a `ResendError` from the shared
rules (`queueing.resend.errors`); what the sandbox adds is the exception to carry it out of
nested handlers, and the HTTP headers some answers need (`retry-after` on a 429).
"""

from __future__ import annotations

from collections.abc import Mapping

from queueing.resend import errors
from queueing.resend.errors import ResendError


class Refused(Exception):
    def __init__(self, error: ResendError, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.headers = dict(headers or {})


def refuse_if(error: ResendError | None) -> None:
    """Raise the error a rule found, if it found one."""
    if error is not None:
        raise Refused(error)


def rate_limited(retry_after: int) -> Refused:
    return Refused(errors.rate_limit_exceeded(), {"retry-after": str(retry_after)})


def sandbox_failure() -> ResendError:
    """What the client gets when the sandbox itself fails: an answer, never a hang-up."""
    return errors.error(errors.APPLICATION_ERROR, "Sandbox failure.")
