"""The admin's compose form: parses what a person typed, then hands it to message_create."""

from email.utils import getaddresses
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from queueing.models import Message, Priority, Source
from queueing.services import AttachmentInput, message_create


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


def split_addresses(value: str) -> list[str]:
    """Addresses typed one per line or separated by commas; quoted names may hold commas."""
    parts = getaddresses([value.replace("\n", ",")])
    return [f"{name} <{addr}>" if name else addr for name, addr in parts if addr or name]


class ComposeForm(forms.Form):
    from_email = forms.CharField(label="From", max_length=512)
    to = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="One address per line, up to 50."
    )
    cc = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1}))
    bcc = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1}))
    reply_to = forms.CharField(required=False, label="Reply-To")
    subject = forms.CharField(max_length=998)
    html = forms.CharField(
        required=False, label="HTML body", widget=forms.Textarea(attrs={"rows": 12})
    )
    text = forms.CharField(
        required=False, label="Text body", widget=forms.Textarea(attrs={"rows": 6})
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.TRANSACTIONAL)
    scheduled_at = forms.DateTimeField(
        required=False,
        label="Send at",
        help_text=f"Leave empty to send now. Time zone: {settings.TIME_ZONE}.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    attachments = MultipleFileField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from_email"].initial = settings.MAILHUB_DEFAULT_FROM

    def send(self, user: Any) -> Message | None:
        """Create the message; on a rule broken, attach the error to its field and return None."""
        data = self.cleaned_data
        scheduled_at = data.get("scheduled_at")
        if scheduled_at and timezone.is_naive(scheduled_at):
            scheduled_at = timezone.make_aware(scheduled_at)
        try:
            return message_create(
                from_email=data["from_email"],
                to=split_addresses(data["to"]),
                cc=split_addresses(data.get("cc", "")),
                bcc=split_addresses(data.get("bcc", "")),
                reply_to=split_addresses(data.get("reply_to", "")),
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
