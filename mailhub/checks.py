"""System checks that name the exact setting to fix for production.

They are warnings, never errors: a development machine without an API key still runs.
"""

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.compatibility)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    warnings: list[Warning] = []
    if not settings.RESEND_API_KEY:
        warnings.append(
            Warning(
                "RESEND_API_KEY is not set, so no email can reach Resend.",
                hint="Set RESEND_API_KEY to an API key from the Resend dashboard "
                "(or point RESEND_API_URL at the Resend sandbox for development).",
                id="mailhub.W001",
            )
        )
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        warnings.append(
            Warning(
                "SECRET_KEY is the development default.",
                hint="Set SECRET_KEY to a long random value, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
                id="mailhub.W002",
            )
        )
    redis_error = _redis_error()
    if redis_error:
        warnings.append(
            Warning(
                f"Redis is not reachable at REDIS_URL ({redis_error}); messages are stored "
                "but not sent until it is.",
                hint="Start Redis, or set REDIS_URL to a reachable server "
                "(default redis://127.0.0.1:6379/0).",
                id="mailhub.W003",
            )
        )
    if not settings.MAILHUB_POSTAL_ADDRESS:
        warnings.append(
            Warning(
                "MAILHUB_POSTAL_ADDRESS is not set; marketing mail should carry the sender's "
                "postal address.",
                hint="Set MAILHUB_POSTAL_ADDRESS to the postal address printed in campaign footers.",
                id="mailhub.W004",
            )
        )
    return warnings


def _redis_error() -> str:
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
    except redis.RedisError as exc:
        return str(exc)
    return ""
