"""Fixtures for the deployment tests: the documented production environment, filled in."""

import secrets

import pytest
from django.conf import settings
from django.db import connection

from queueing.resend.webhook_signing import new_secret
from tests.deploy.production_env import production_env


def database_url() -> str:
    """This test run's database as a URL (the database the suite itself uses)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db.get('USER') or ''}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def documented_production_env() -> dict[str, str]:
    """docs/DEPLOY.md's /etc/mailhub/mailhub.env, its placeholders filled for this machine."""
    return production_env(
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        RESEND_API_KEY="re_" + secrets.token_urlsafe(24),
        RESEND_WEBHOOK_SECRETS=new_secret(),
    )
