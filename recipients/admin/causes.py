"""Showing what caused a suppression (or a review): links to the message and campaign admin
pages by id. Reversed by URL name, so recipients imports neither app's admin; an id whose row
is gone still shows as "#id" (the link then answers "not found")."""

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

# Where queueing's raw webhook events are shown, once that admin exists (issue 13's core).
RAW_EVENT_URL_NAME = "admin:queueing_providerwebhookevent_change"


def admin_link(url_name: str, pk: int | None, label: str) -> str:
    if pk is None:
        return "-"
    try:
        url = reverse(url_name, args=[pk])
    except NoReverseMatch:
        return f"{label} #{pk}"
    return format_html('<a href="{}">{} #{}</a>', url, label, pk)


def event_link(pk: int | None) -> str:
    return admin_link(RAW_EVENT_URL_NAME, pk, "event")


def message_link(pk: int | None) -> str:
    return admin_link("admin:queueing_message_change", pk, "message")


def campaign_link(pk: int | None) -> str:
    return admin_link("admin:campaigns_campaign_change", pk, "campaign")
