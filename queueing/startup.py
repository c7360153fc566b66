"""Refusing to start a process whose settings are unsafe, with the system checks' own words.

Checks registered with the STARTUP tag (mailhub.checks: the development SECRET_KEY, an unset
MAILHUB_BASE_URL, with DEBUG off) are the ones a running process must not ignore. `manage.py
check` reports them; the web app (mailhub.wsgi) and every worker (queueing.worker) call
`refuse_unsafe_start`, so however a process is started it stops with the same message.
Through Django's check registry, queueing needs no import from the layers above it.
"""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

STARTUP = "startup"  # the check tag


def startup_errors() -> list[checks.CheckMessage]:
    """The serious (Error and above) results of the checks tagged STARTUP."""
    return [message for message in checks.run_checks(tags=[STARTUP]) if message.is_serious()]


def refusal_text(process: str, errors: list[checks.CheckMessage]) -> str:
    lines = [f"mailhub refuses to start the {process}: the settings are not safe for production."]
    for error in errors:
        lines.append(f"({error.id}) {error.msg}")
        if error.hint:
            lines.append(f"    HINT: {error.hint}")
    return "\n".join(lines)


def refuse_unsafe_start(process: str) -> None:
    """Raise ImproperlyConfigured, naming each setting to fix, if a STARTUP check fails."""
    errors = startup_errors()
    if errors:
        raise ImproperlyConfigured(refusal_text(process, errors))
