"""Settings for the test suite: mailhub's settings, with test-only Redis and fast retries.

Tests flush their Redis database, so it defaults to database 15, away from development data.
Subprocess workers started by tests import this module too.
"""

import os

os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

from mailhub.settings import *  # noqa: F403
from mailhub.settings import BASE_DIR, DATABASES

# The suite runs with DEBUG off, as production does, so it sets what production must set
# (mailhub.checks refuses the development key and base URL; subprocess workers read these too).
SECRET_KEY = "mailhub-test-suite-secret-key-never-used-outside-tests-0123456789"
MAILHUB_BASE_URL = "http://testserver"
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = BASE_DIR / "var" / "test-static"
os.makedirs(STATIC_ROOT, exist_ok=True)
RESEND_API_KEY = "re_test_key"
# Tests run unlimited unless one asks for a limit (worker subprocesses get it through the env).
RESEND_RATE_LIMIT = float(os.environ.get("MAILHUB_TEST_RATE_LIMIT", "0"))
RESEND_READ_TIMEOUT = 5.0
MAILHUB_RETRY_BASE_SECONDS = 0.2
MAILHUB_RECONCILE_INTERVAL = 1.0
MAILHUB_LEASE_SECONDS = 6.0
MAILHUB_RENDER_GROUP_TIME_LIMIT = 1.5  # a quarter of the lease, as the default would be
MAILHUB_CAMPAIGN_FANOUT_STALL_SECONDS = 5.0
MAILHUB_POSTAL_ADDRESS = "mailhub test, 1 Test Street, Testville"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: worker processes started by tests open the same database.
    _test_db = os.environ.get("TEST_SQLITE_PATH", str(BASE_DIR / "var" / "test-db.sqlite3"))
    os.makedirs(os.path.dirname(_test_db), exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": _test_db}

# The webhook receivers of the forwarding tests listen on 127.0.0.1; the guard's own tests
# turn this off again.
MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = True
MAILHUB_WEBHOOK_TIMEOUT = 3.0
MAILHUB_EVENTS_GATHER_SECONDS = 0.0  # tests process at once
