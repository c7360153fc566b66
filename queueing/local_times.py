"""Times shown in the viewer's own time zone on admin pages.

The server renders a `<time datetime="…">` in its own zone (TIME_ZONE, named, so it is never
mistaken for local); `static/mailhub/local_time.js` rewrites each into the browser's zone.
No cookie or per-user setting: the browser knows its zone, and the page stays cacheable.
"""

from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

LOCAL_TIME_JS = "mailhub/local_time.js"


def local_time(value: datetime | None, *, short: bool = False) -> SafeString:
    """`short`: day and time only, for list columns (the full reading is its tooltip)."""
    if value is None:
        return format_html("{}", "—")
    shown = timezone.localtime(value)
    return format_html(
        '<time class="mh-time{}" datetime="{}" title="{}">{}</time>',
        " mh-time--short" if short else "",
        value.isoformat(),
        shown.strftime("%Y-%m-%d %H:%M:%S %Z"),
        shown.strftime("%d %b %H:%M" if short else "%Y-%m-%d %H:%M %Z"),
    )
