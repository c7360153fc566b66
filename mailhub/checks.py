"""System checks that name the exact setting to fix for production.

`check_safe_to_start` holds what production must not run with (with DEBUG off: the public
development SECRET_KEY, the default MAILHUB_BASE_URL). Those are Errors: `manage.py check`
fails, and through the STARTUP tag the web app and the workers refuse to start with the same
words (queueing.startup). With DEBUG on they are allowed, so the demo and a development
machine run as they are.

The rest are warnings: a development machine without an API key or a postal address still
runs (campaign sending itself refuses to start without a postal address, DEBUG off).
"""

from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Tags, Warning, register

from queueing.message_filters import FilterError
from queueing.resend.webhooks import secret_problem
from queueing.retention.policy import policy as purge_policy
from queueing.startup import STARTUP


@register(Tags.security, STARTUP)
def check_safe_to_start(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The settings no process may run with in production; the one source of their messages."""
    secret_key_hint = (
        "Set SECRET_KEY to a long random value, e.g. the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )
    if settings.DEBUG:
        if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
            return [
                Warning(
                    "SECRET_KEY is the development default.",
                    hint=secret_key_hint,
                    id="mailhub.W002",
                )
            ]
        return []
    problems: list[CheckMessage] = []
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        problems.append(
            Error(
                "SECRET_KEY is unset, so the public development key is used (DEBUG is off): "
                "anyone could forge confirmation links and sessions.",
                hint=secret_key_hint,
                id="mailhub.E002",
            )
        )
    base_url = settings.MAILHUB_BASE_URL.rstrip("/")
    if base_url == settings.DEV_BASE_URL:
        problems.append(
            Error(
                f"MAILHUB_BASE_URL is unset (the development default {settings.DEV_BASE_URL}), "
                "so unsubscribe and confirmation links in emails would point there "
                "(DEBUG is off).",
                hint="Set MAILHUB_BASE_URL to this mailhub's public address, "
                "e.g. https://mail.example.com.",
                id="mailhub.E005",
            )
        )
    elif urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
        problems.append(
            Error(
                f"MAILHUB_BASE_URL {settings.MAILHUB_BASE_URL!r} is not an absolute http(s) "
                "address, so links in emails would not work (DEBUG is off).",
                hint="Set MAILHUB_BASE_URL to this mailhub's public address, "
                "e.g. https://mail.example.com.",
                id="mailhub.E005",
            )
        )
    return problems


@register(Tags.security, STARTUP)
def check_webhook_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A malformed webhook secret is skipped when verifying: an event signed with it would be
    refused (a rotation that loses events), and an empty key would let anyone sign."""
    problems: list[CheckMessage] = []
    for position, secret in enumerate(settings.RESEND_WEBHOOK_SECRETS, start=1):
        problem = secret_problem(secret)
        if problem:
            problems.append(
                Error(
                    f"RESEND_WEBHOOK_SECRETS entry {position} {problem}.",
                    hint="Copy the signing secret (whsec_…) from the webhook's page in "
                    "Resend's dashboard; separate two secrets with a comma.",
                    id="mailhub.E006",
                )
            )
    return problems


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
                "MAILHUB_POSTAL_ADDRESS is not set; marketing mail must carry the sender's "
                "postal address, so campaigns cannot be sent while DEBUG is off.",
                hint="Set MAILHUB_POSTAL_ADDRESS to the postal address printed in campaign footers.",
                id="mailhub.W004",
            )
        )
    if settings.MAILHUB_RENDER_GROUP_TIME_LIMIT >= settings.MAILHUB_LEASE_SECONDS / 2:
        warnings.append(
            Warning(
                f"MAILHUB_RENDER_GROUP_TIME_LIMIT ({settings.MAILHUB_RENDER_GROUP_TIME_LIMIT:g} s) "
                f"is not well under MAILHUB_LEASE_SECONDS ({settings.MAILHUB_LEASE_SECONDS:g} s): "
                "a slow campaign group could outlive its claim and be taken by a second worker.",
                hint="Keep the group render limit under half the lease (unset it to get a "
                "quarter of the lease, at most 10 s).",
                id="mailhub.W006",
            )
        )
    try:
        purge_policy()
    except FilterError as exc:
        warnings.append(
            Warning(
                f"Retention settings refused, so the workers purge nothing: {exc}",
                hint="Fix the MAILHUB_PURGE_* setting named (docs/OPERATIONS.md, Retention).",
                id="mailhub.W007",
            )
        )
    return warnings


def _redis_error() -> str:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
    except redis.RedisError as exc:
        return str(exc)
    return ""


# What `maxmemory-policy` must be: with any other, a full Redis silently drops keys (RQ's jobs,
# the rate limiter's timeline, drain flags) instead of refusing writes, which mailhub handles.
REDIS_POLICY = "noeviction"


@register(Tags.compatibility)
def check_redis_eviction_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """One CONFIG GET on the Redis mailhub uses. Unreachable: W003 says so, nothing more here;
    CONFIG refused (managed Redis often disables it): an Info, not a failure."""
    policy, problem = _redis_policy()
    if problem:
        return [
            Info(
                f"Could not read Redis' maxmemory-policy ({problem}).",
                hint=f"Make sure it is {REDIS_POLICY} (in redis.conf, or your provider's "
                "parameter group); see docs/DEPLOY.md.",
                id="mailhub.I010",
            )
        ]
    if policy is None or policy == REDIS_POLICY:
        return []
    return [
        Warning(
            f"Redis' maxmemory-policy is {policy!r}: when Redis fills up it evicts keys, "
            "which can lose queued jobs and the shared rate limiter's state.",
            hint=f"Set `maxmemory-policy {REDIS_POLICY}` in redis.conf (or `CONFIG SET "
            f"maxmemory-policy {REDIS_POLICY}`); a full Redis then refuses writes, which "
            "mailhub survives (the rows are the truth). See docs/DEPLOY.md.",
            id="mailhub.W010",
        )
    ]


def _redis_policy() -> tuple[str | None, str]:
    """(policy, "") when read; (None, "") when Redis is unreachable; (None, why) when Redis
    answered but would not say (CONFIG disabled, renamed or not permitted)."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        answer = client.config_get("maxmemory-policy")
    except (redis.ConnectionError, redis.TimeoutError):
        return None, ""
    except redis.RedisError as exc:
        return None, f"CONFIG GET was refused: {exc}"
    finally:
        client.close()
    if "maxmemory-policy" not in answer:
        return None, "CONFIG GET returned no maxmemory-policy"
    return str(answer["maxmemory-policy"]), ""
