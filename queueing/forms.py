"""The admin's compose form: parses what a person typed, then hands it to message_create."""

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.utils import timezone

from queueing.models import Message, Priority, Source
from queueing.services import AttachmentInput, message_create
from queueing.validation import encoded_size, max_message_bytes, split_address_list


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


def _area(rows: int) -> widgets.AdminTextareaWidget:
    return widgets.AdminTextareaWidget(attrs={"rows": rows})


class ComposeForm(forms.Form):
    # Laid out as the admin lays out its own forms (AdminForm + admin/includes/fieldset.html).
    fieldsets = (
        (None, {"fields": ("from_email", "to", "cc", "bcc", "reply_to", "subject")}),
        ("Content", {"fields": ("html", "text", "attachments")}),
        ("Sending", {"fields": ("priority", "scheduled_at", "time_zone")}),
    )

    from_email = forms.CharField(label="From", max_length=512, widget=widgets.AdminTextInputWidget)
    to = forms.CharField(
        widget=_area(2),
        help_text="Up to 50, one per line or separated by commas; quote a name that holds a "
        'comma: "Doe, John" &lt;john@example.com&gt;.',  # shown as HTML by the admin
    )
    cc = forms.CharField(required=False, widget=_area(1))
    bcc = forms.CharField(required=False, widget=_area(1))
    reply_to = forms.CharField(
        required=False, label="Reply-To", widget=widgets.AdminTextInputWidget
    )
    subject = forms.CharField(max_length=998, widget=widgets.AdminTextInputWidget)
    html = forms.CharField(required=False, label="HTML body", widget=_area(12))
    text = forms.CharField(required=False, label="Text body", widget=_area(6))
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.TRANSACTIONAL)
    scheduled_at = forms.DateTimeField(
        required=False,
        label="Send at",
        help_text="Leave empty to send now. In your browser's time zone "
        f'(<span class="mh-viewer-zone">{settings.TIME_ZONE}</span>).',
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    # The browser's IANA zone, filled in by static/mailhub/compose.js: "Send at" is read in
    # it. Empty or unknown: the server's TIME_ZONE.
    time_zone = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    attachments = MultipleFileField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from_email"].initial = settings.MAILHUB_DEFAULT_FROM

    # Each address field is parsed the way the send_email command parses a --to: a list, a
    # comma inside quotes being part of a name; the error names the whole bad entry.
    def clean_to(self) -> list[str]:
        return _addresses(self.cleaned_data["to"], "to")

    def clean_cc(self) -> list[str]:
        return _addresses(self.cleaned_data["cc"], "cc")

    def clean_bcc(self) -> list[str]:
        return _addresses(self.cleaned_data["bcc"], "bcc")

    def clean_reply_to(self) -> list[str]:
        return _addresses(self.cleaned_data["reply_to"], "reply_to")

    def clean_attachments(self) -> list:
        """Refuse uploads too large for a message by their size, before reading them."""
        files = self.cleaned_data["attachments"]
        size = sum(encoded_size(f.size or 0) for f in files)
        if size > max_message_bytes():
            raise ValidationError(
                f"The attachments are {size:,} bytes after base64; a message may be at most "
                f"{max_message_bytes():,} bytes (MAILHUB_MAX_MESSAGE_BYTES)."
            )
        return files

    def send(self, user: Any) -> Message | None:
        """Create the message; on a rule broken, attach the error to its field and return None."""
        data = self.cleaned_data
        scheduled_at = data.get("scheduled_at")
        if scheduled_at:
            # The field read the wall time in the server's zone; it was typed in the viewer's.
            wall = (
                timezone.make_naive(scheduled_at)
                if timezone.is_aware(scheduled_at)
                else scheduled_at
            )
            scheduled_at = timezone.make_aware(wall, _zone(data.get("time_zone", "")))
        try:
            return message_create(
                from_email=data["from_email"],
                to=data["to"],
                cc=data.get("cc", []),
                bcc=data.get("bcc", []),
                reply_to=data.get("reply_to", []),
                subject=data["subject"],
                html=data.get("html", ""),
                text=data.get("text", ""),
                priority=data["priority"],
                scheduled_at=scheduled_at,
                attachments=[
                    AttachmentInput(f.name, f.read(), f.content_type or "")
                    for f in data.get("attachments", [])
                ],
                source=Source.ADMIN,
                created_by=user,
            )
        except ValidationError as exc:
            for field, errors in exc.error_dict.items() if hasattr(exc, "error_dict") else []:
                self.add_error(field if field in self.fields else None, errors)
            if not hasattr(exc, "error_dict"):
                self.add_error(None, exc)
            return None


def _zone(name: str) -> Any:
    """The viewer's zone by its IANA name; the server's for an empty or unknown one."""
    if name and len(name) <= 64 and name.isascii():
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.get_current_timezone()


def _addresses(value: str, field: str) -> list[str]:
    try:
        return split_address_list(value, field)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict[field]) from None
