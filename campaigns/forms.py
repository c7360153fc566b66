"""Admin forms: each cleans input with the same rules the services enforce."""

from django import forms
from django.core.exceptions import ValidationError

from campaigns.models import Campaign, Template
from campaigns.selectors import template_content
from campaigns.services import template_validate, validate_attribute_filter
from queueing import validation


class TemplateForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ["name", "slug", "subject", "body_format", "body", "text_body", "strict_variables"]
        widgets = {
            "body": forms.Textarea(
                attrs={"rows": 24, "cols": 100, "style": "font-family: monospace"}
            ),
            "text_body": forms.Textarea(attrs={"rows": 8, "cols": 100}),
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        template = Template(**{f: cleaned.get(f, "") for f in self.Meta.fields})
        try:
            template_validate(template_content(template))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "template",
            "subject",
            "from_email",
            "reply_to",
            "lists",
            "attribute_filter",
        ]

    def clean_from_email(self) -> str:
        value = self.cleaned_data["from_email"]
        return _field(validation.validate_sender, value) if value else ""

    def clean_reply_to(self) -> str:
        value = self.cleaned_data["reply_to"]
        return _field(lambda v: validation.normalise_address(v, "reply_to"), value) if value else ""

    def clean_attribute_filter(self) -> dict:
        return _field(validate_attribute_filter, self.cleaned_data["attribute_filter"])


def _field(check, value):
    try:
        return check(value)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None


class SendForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        required=False, help_text="Leave empty to send now. Time zone: the site's (UTC)."
    )


class TestSendForm(forms.Form):
    to = forms.CharField(
        help_text="One or more addresses, separated by commas; quote a name that holds a "
        'comma: "Doe, John" <john@example.com>.'
    )
    recipient = forms.CharField(
        required=False,
        help_text="Render with this recipient's data (email); empty: a sample person.",
    )

    def clean_to(self) -> list[str]:
        # Parsed like the compose form: a comma inside quotes is part of a name.
        addresses = _field(
            lambda v: validation.split_address_list(v, "to"), self.cleaned_data["to"]
        )
        return _field(lambda v: validation.normalise_addresses(v, "to", required=True), addresses)


class PreviewForm(forms.Form):
    recipient = forms.CharField(
        required=False, help_text="A recipient's email; empty: a sample person."
    )
