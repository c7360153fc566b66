"""Absolute URLs for links in emails, built on settings.MAILHUB_BASE_URL."""

from django.conf import settings
from django.urls import reverse


def absolute_url(path_name: str, **kwargs: str) -> str:
    return settings.MAILHUB_BASE_URL.rstrip("/") + reverse(path_name, kwargs=kwargs)
