"""API keys in the admin: make one (its key shown once, on the page that follows, never
stored or put in a message cookie), list them with prefix, scopes and last use, revoke.

Permissions are Django's model permissions on ApiKey (`queueing.add_apikey`,
`queueing.view_apikey`, `queueing.change_apikey` for editing and revoking), meant for the
manager role. Keys are never deleted here: a revoked key keeps its messages' history.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from queueing.api_keys import api_key_create, api_key_revoke, validate_key_settings
from queueing.models import ApiKey, ApiScope


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple
    )
    allowed_from_domains = forms.CharField(
        required=False,
        help_text="Comma-separated sender domains this key may use in `from`; empty: any "
        "allowed by MAILHUB_ALLOWED_SENDER_DOMAINS.",
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes", "allowed_from_domains", "rate_limit")
        help_texts = {"rate_limit": "Requests per second for this key; empty: no limit."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["allowed_from_domains"] = ", ".join(self.instance.allowed_from_domains)

    def clean_allowed_from_domains(self) -> list[str]:
        return [d for d in self.cleaned_data["allowed_from_domains"].split(",") if d.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            cleaned = validate_key_settings(
                name=data.get("name") or "",
                scopes=data.get("scopes") or [],
                allowed_from_domains=data.get("allowed_from_domains") or [],
                rate_limit=data.get("rate_limit"),
            )
        except ValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        data.update(cleaned)
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ("name", "prefix", "scope_list", "last_used_at", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ApiKeyForm, change: bool) -> None:
        if change:
            obj.save()
            return
        made = api_key_create(
            name=obj.name,
            scopes=obj.scopes,
            allowed_from_domains=obj.allowed_from_domains,
            rate_limit=obj.rate_limit,
            created_by=request.user,
        )
        # The admin goes on with `obj` (log entry, next page): make it the stored row.
        obj.__dict__.update(
            {k: v for k, v in made.api_key.__dict__.items() if not k.startswith("_")}
        )
        obj._state.adding = False
        request._new_api_key_secret = made.secret

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue=None
    ) -> HttpResponse:
        secret = getattr(request, "_new_api_key_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {**self.admin_site.each_context(request), "api_key": obj, "secret": secret}
        context["opts"] = self.model._meta
        response = TemplateResponse(request, "admin/queueing/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
            count += 1
        self.message_user(request, f"{count} key(s) revoked.", messages.SUCCESS)
