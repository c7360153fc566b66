"""With DEBUG off, the web app and the workers refuse to start on the public development
SECRET_KEY or an unset MAILHUB_BASE_URL, with the system check's own message (table #5: a
confirmation token forged with the public key is useless, because no server runs with it)."""

import subprocess
import sys

import pytest
from django.core import signing
from django.urls import reverse

from mailhub.checks import check_safe_to_start
from mailhub.settings import DEV_BASE_URL, DEV_SECRET_KEY
from recipients.models import List, Recipient, Subscription
from recipients.tokens import CONFIRMATION_SALT, confirmation_token
from tests.conftest import ROOT
from tests.mailhub.test_checks import PRODUCTION, clean_env, manage

NO_SECRET_KEY = {**PRODUCTION, "SECRET_KEY": ""}
NO_BASE_URL = {k: v for k, v in PRODUCTION.items() if k != "MAILHUB_BASE_URL"}


def messages_for(settings, **overrides) -> list[str]:
    """What check_safe_to_start says for these settings: the one source of the words."""
    for name, value in overrides.items():
        setattr(settings, name, value)
    return [message.msg for message in check_safe_to_start()]


def start_wsgi(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Load the WSGI application as a WSGI server (gunicorn, uwsgi) does."""
    return subprocess.run(
        [sys.executable, "-c", "import mailhub.wsgi; print('serving')"],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "overrides"),
    [
        (NO_SECRET_KEY, {"SECRET_KEY": DEV_SECRET_KEY}),
        (NO_BASE_URL, {"MAILHUB_BASE_URL": DEV_BASE_URL}),
    ],
    ids=["secret-key", "base-url"],
)
def test_web_app_and_workers_refuse_to_start(env, overrides, settings):
    settings.DEBUG = False
    expected = messages_for(settings, **overrides)
    assert len(expected) == 1

    web = start_wsgi(env)
    assert web.returncode != 0 and "serving" not in web.stdout
    assert "mailhub refuses to start the web app" in web.stderr
    assert expected[0] in web.stderr

    # The documented worker command: its system checks stop it before it takes a job.
    worker = manage("rqworker", "transactional", "events", "bulk", "--burst", **env)
    assert worker.returncode != 0
    assert expected[0] in worker.stderr
    # Started past the checks, the worker class itself refuses.
    worker = manage(
        "rqworker", "transactional", "events", "bulk", "--burst", "--skip-checks", **env
    )
    assert worker.returncode != 0
    assert "mailhub refuses to start the worker" in worker.stderr
    assert expected[0] in worker.stderr


def test_web_app_starts_with_production_settings():
    web = start_wsgi(PRODUCTION)
    assert web.returncode == 0, web.stderr
    assert web.stdout.strip() == "serving"


def test_web_app_starts_with_the_development_defaults_when_debug_is_on():
    web = start_wsgi({"DEBUG": "true", "DJANGO_SETTINGS_MODULE": "mailhub.settings"})
    assert web.returncode == 0, web.stderr


@pytest.mark.django_db
def test_confirmation_token_forged_with_the_public_key_confirms_nothing(client):
    """Table #5, from the other side: a server that may run has its own key, so a token
    signed with the public development key is refused."""
    digest = List.objects.create(slug="digest", name="Digest", opt_in=List.OptIn.DOUBLE)
    jane = Recipient.objects.create(email="jane@example.com")
    pending = Subscription.objects.create(
        recipient=jane, list=digest, status=Subscription.Status.PENDING, source="form"
    )
    forged = signing.dumps(
        {"s": pending.pk},
        key=DEV_SECRET_KEY,
        salt=CONFIRMATION_SALT,
        compress=False,
    )
    client.post(reverse("recipients:confirm", args=[forged]))
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.PENDING
    # The same request with the server's own key does confirm: the refusal is the key's.
    client.post(reverse("recipients:confirm", args=[confirmation_token(pending.pk)]))
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.SUBSCRIBED
