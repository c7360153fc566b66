"""Forms for the public preference page and the admin's import page and actions."""

from django import forms
from django.contrib.admin import widgets
from django.core.validators import FileExtensionValidator
from django.utils.text import capfirst

from recipients.models import List, Subscription, Suppression
from recipients.public_names import list_public_description, list_public_name

ALL_MARKETING = "all_marketing"


class PreferencesForm(forms.Form):
    """One checkbox per list the person was ever on, plus "stop all marketing email".

    Lists are named as recipients may see them (recipients.public_names): an internal list's
    name and description never reach the page."""

    def __init__(self, *args, subscriptions: list[Subscription], unsubscribed_all: bool, **kw):
        super().__init__(*args, **kw)
        self.subscriptions = subscriptions
        for subscription in subscriptions:
            self.fields[self.field_name(subscription)] = forms.BooleanField(
                required=False,
                label=capfirst(list_public_name(subscription.list)),
                help_text=list_public_description(subscription.list),
                initial=subscription.status != Subscription.Status.UNSUBSCRIBED,
            )
        self.fields[ALL_MARKETING] = forms.BooleanField(
            required=False,
            label="Unsubscribe from all marketing email",
            help_text="You will still get emails you need, such as password resets and receipts.",
            initial=unsubscribed_all,
        )

    @staticmethod
    def field_name(subscription: Subscription) -> str:
        return f"list_{subscription.list_id}"

    def list_fields(self):
        return [self[self.field_name(s)] for s in self.subscriptions]

    def list_rows(self) -> list[tuple[forms.BoundField, bool]]:
        """(checkbox, waiting for the person's confirmation) per list, for the template."""
        pending = Subscription.Status.PENDING
        return [(self[self.field_name(s)], s.status == pending) for s in self.subscriptions]


class ImportForm(forms.Form):
    # Laid out as the admin lays out its own forms (AdminForm + admin/includes/fieldset.html).
    fieldsets = ((None, {"fields": ("file", "list_slug", "encoding")}),)

    file = forms.FileField(
        label="CSV file",
        validators=[FileExtensionValidator(["csv", "txt"])],
        help_text="UTF-8 CSV with a header row and an email column; first_name, last_name and "
        "external_id map to fields, other columns become attributes.",
    )
    list_slug = forms.SlugField(
        label="List",
        max_length=100,
        widget=widgets.AdminTextInputWidget(attrs={"list": "lists", "autocomplete": "off"}),
        help_text="Slug of the list to subscribe the rows to; a new single opt-in list is "
        "created if none has this slug.",
    )
    encoding = forms.ChoiceField(
        choices=[
            ("utf-8-sig", "UTF-8"),
            ("cp1252", "Windows-1252 (Excel, western)"),
            ("latin-1", "ISO-8859-1"),
        ],
        initial="utf-8-sig",
    )


class ChooseListForm(forms.Form):
    """Intermediate page of the "subscribe/unsubscribe to a list" admin actions."""

    list = forms.ModelChoiceField(queryset=List.objects.all(), empty_label=None)


class SuppressForm(forms.Form):
    reason = forms.ChoiceField(choices=Suppression.Reason.choices, initial="manual")
    scope = forms.ChoiceField(choices=Suppression.Scope.choices, initial="all")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class UnsuppressForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why may these addresses be mailed again? Kept on each recipient's timeline.",
    )


class ForgetForm(forms.Form):
    """The confirmation of an erasure, which cannot be undone."""

    confirm = forms.BooleanField(
        required=True,
        label="Erase these people",
        help_text="Their recipient rows, subscriptions, consent timelines, the addresses and "
        "bodies of their messages and the personal fields of their events are erased for "
        "good. Mail to their addresses stays refused (a hashed suppression).",
    )
