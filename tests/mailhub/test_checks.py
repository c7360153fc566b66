"""`manage.py check` names what production still needs, as warnings; --deploy is clean when set."""

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
    "MAILHUB_POSTAL_ADDRESS": "Example Ltd, 1 Main Street, Springfield",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    ignored = {*PRODUCTION, "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in ignored}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_production_settings_are_warnings_naming_the_setting():
    result = manage(
        "check", DEBUG="false", SECRET_KEY="anything", REDIS_URL="redis://127.0.0.1:1/0"
    )
    assert result.returncode == 0, result.stderr
    out = result.stderr + result.stdout
    assert "mailhub.W001" in out and "Set RESEND_API_KEY" in out
    assert "mailhub.W003" in out and "REDIS_URL" in out
    assert "mailhub.W004" in out and "MAILHUB_POSTAL_ADDRESS" in out
    assert "mailhub.W002" not in out  # a SECRET_KEY was given


def test_development_secret_key_is_flagged():
    result = manage("check", DEBUG="true", SECRET_KEY="")
    assert result.returncode == 0
    assert "mailhub.W002" in result.stderr + result.stdout


def test_deploy_check_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
