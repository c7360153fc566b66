"""Imported once by the fork server of campaigns.bounded_render (never by the app itself):
Django set up and the renderer loaded, so every bounded child forked from it starts warm.
It reads the same DJANGO_SETTINGS_MODULE as the process that started it."""

import django

django.setup()

import campaigns.bounded_render  # noqa: E402, F401  (loaded here for every child)
