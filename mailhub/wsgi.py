"""WSGI entry point for mailhub. It refuses to start on settings unsafe for production."""

import os

from django.core.wsgi import get_wsgi_application

from queueing.startup import refuse_unsafe_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailhub.settings")

django_application = get_wsgi_application()
# After setup, before serving a request: the public development SECRET_KEY or an unset
# MAILHUB_BASE_URL with DEBUG off stops the server here, naming the setting to fix.
refuse_unsafe_start("web app")

# Imported once Django is set up (it imports views and models).
from mailhub.webhook_door import webhook_door  # noqa: E402

# Resend's webhooks are answered beside Django's middleware stack (mailhub/webhook_door.py).
application = webhook_door(django_application)
