"""`manage.py check --deploy` under the production environment docs/DEPLOY.md documents (read
from the page, not copied here): it must pass with no warning at all, and every variable the
page sets must be documented in .env.example."""

import subprocess
import sys

from tests.conftest import ROOT
from tests.deploy.production_env import (
    documented_env,
    env_example_names,
    placeholders,
)
from tests.mailhub.test_checks import clean_env


def test_check_deploy_is_clean_under_the_documented_production_env(documented_production_env):
    env = clean_env(**documented_production_env, DJANGO_SETTINGS_MODULE="mailhub.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "INFO"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_documented_env_is_production_with_https():
    env = documented_env()
    assert env["DEBUG"] == "false"
    # TLS ends at the proxy; Django redirects plain HTTP, sends HSTS and secure cookies.
    assert env["BEHIND_TLS_PROXY"] == "true"
    assert env["SECURE_SSL_REDIRECT"] == "true" and env["SECURE_COOKIES"] == "true"
    assert int(env["SECURE_HSTS_SECONDS"]) >= 31_536_000
    assert env["MAILHUB_BASE_URL"].startswith("https://")
    # What an operator must invent or fetch is a placeholder, never a usable example value.
    assert {"SECRET_KEY", "DATABASE_URL", "RESEND_API_KEY", "RESEND_WEBHOOK_SECRETS"} <= (
        placeholders(env)
    )


def test_every_documented_variable_is_in_env_example():
    missing = set(documented_env()) - env_example_names()
    assert not missing, (
        f"docs/DEPLOY.md sets {sorted(missing)}, which .env.example does not document"
    )
