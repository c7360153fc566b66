"""`manage.py check` names what production still needs: the public development SECRET_KEY
and an unset MAILHUB_BASE_URL are errors with DEBUG off (check fails), the rest warnings;
--deploy is clean when everything is set."""

import os
import subprocess
import sys

from tests.conftest import ROOT

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "mailhub.settings",
    "DEBUG": "false",
    "SECRET_KEY": "x" * 20 + "a-real-looking-production-secret-key-1234567890",
    "RESEND_API_KEY": "re_live_key",
    "ALLOWED_HOSTS": "mail.example.com",
    "MAILHUB_BASE_URL": "https://mail.example.com",
    "MAILHUB_POSTAL_ADDRESS": "Example Ltd, 1 Main Street, Springfield",
}


def clean_env(**env: str) -> dict[str, str]:
    """This process's environment without the settings under test, plus `env`."""
    ignored = {*PRODUCTION, "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in ignored}
    return {**clean, "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"), **env}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_production_settings_are_warnings_naming_the_setting():
    result = manage(
        "check",
        DEBUG="false",
        SECRET_KEY="anything",
        MAILHUB_BASE_URL="https://mail.example.com",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 0, result.stderr
    out = result.stderr + result.stdout
    assert "mailhub.W001" in out and "Set RESEND_API_KEY" in out
    assert "mailhub.W003" in out and "REDIS_URL" in out
    assert "mailhub.W004" in out and "MAILHUB_POSTAL_ADDRESS" in out
    assert "mailhub.W002" not in out and "mailhub.E" not in out


def test_development_secret_key_is_a_warning_with_debug_on():
    result = manage("check", DEBUG="true", SECRET_KEY="")
    assert result.returncode == 0
    out = result.stderr + result.stdout
    assert "mailhub.W002" in out and "mailhub.E" not in out


def test_development_secret_key_is_an_error_with_debug_off():
    env = {**PRODUCTION, "SECRET_KEY": ""}
    for args in (["check"], ["check", "--deploy"]):
        result = manage(*args, **env)
        assert result.returncode != 0, args
        assert "(mailhub.E002) SECRET_KEY is unset" in result.stderr
        assert "mailhub.E005" not in result.stderr


def test_unset_base_url_is_an_error_with_debug_off():
    """Table #14: a production-like env without MAILHUB_BASE_URL is no longer "no issues"."""
    env = {k: v for k, v in PRODUCTION.items() if k != "MAILHUB_BASE_URL"}
    for args in (["check"], ["check", "--deploy"]):
        result = manage(*args, **env)
        assert result.returncode != 0, args
        assert "(mailhub.E005) MAILHUB_BASE_URL is unset" in result.stderr
        assert "http://127.0.0.1:8000" in result.stderr
    # Set to the development default by hand (a copied .env.example) is the same mistake.
    result = manage("check", **{**env, "MAILHUB_BASE_URL": "http://127.0.0.1:8000/"})
    assert result.returncode != 0 and "mailhub.E005" in result.stderr
    result = manage("check", **{**env, "MAILHUB_BASE_URL": "mail.example.com"})
    assert result.returncode != 0
    assert "(mailhub.E005) MAILHUB_BASE_URL 'mail.example.com' is not an absolute" in (
        result.stderr
    )


def test_deploy_check_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_a_group_render_limit_near_the_lease_is_a_warning():
    result = manage(
        "check",
        **PRODUCTION,
        MAILHUB_LEASE_SECONDS="20",
        MAILHUB_RENDER_GROUP_TIME_LIMIT="15",
    )
    out = result.stderr + result.stdout
    assert "mailhub.W006" in out and "MAILHUB_RENDER_GROUP_TIME_LIMIT" in out
    assert "mailhub.W006" not in manage("check", **PRODUCTION).stdout
