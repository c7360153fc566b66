"""`{% load mailhub_badges %}`: badges (queueing/badges.py, static/mailhub/badges.css) and
viewer-local times (queueing/local_times.py, static/mailhub/local_time.js) in templates."""

from datetime import datetime

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from queueing import badges, local_times

register = template.Library()


@register.simple_tag
def badge(label: str, tone: str = "neutral") -> SafeString:
    return badges.badge(label, tone)


@register.simple_tag
def message_status_badge(status: str) -> SafeString:
    return badges.message_status_badge(status)


@register.simple_tag
def event_badge(kind: str) -> SafeString:
    return badges.event_badge(kind)


@register.simple_tag
def badge_css() -> SafeString:
    return format_html('<link rel="stylesheet" href="{}">', static(badges.BADGE_CSS))


@register.simple_tag
def local_time(value: datetime | None) -> SafeString:
    return local_times.local_time(value)


@register.simple_tag
def local_time_js() -> SafeString:
    return format_html('<script src="{}" defer></script>', static(local_times.LOCAL_TIME_JS))
