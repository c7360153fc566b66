"""Webhook endpoints of API keys and their delivery log, in the admin.

Part of API keys, so the manager's alone (mailhub/roles.py takes these models' permissions
from viewers and senders). An endpoint's signing secret is shown once, on the page after it
is made or rolled, never in a form, a list or a message cookie. The delivery log is
read-only; its "retry now" action (`queueing.change_webhookdelivery`) makes the selected
deliveries due at once. Every write goes through queueing.forwarding.endpoints.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from queueing.forwarding.endpoints import (
    EMAIL_EVENT_TYPES,
    NewWebhookEndpoint,
    validate_endpoint_settings,
    webhook_deliveries_retry,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_roll_secret,
    webhook_endpoint_update,
)
from queueing.forwarding.models import WebhookDelivery, WebhookEndpoint
from queueing.models import ApiKey

SECRET_TEMPLATE = "admin/queueing/webhookendpoint/secret.html"


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2048,
        assume_scheme="https",
        help_text="https only; private and loopback addresses are refused.",
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EMAIL_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Resend's event names; none ticked: every email event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("api_key", "url", "event_types", "active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "api_key" in self.fields:
            self.fields["api_key"].queryset = ApiKey.objects.filter(revoked_at__isnull=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "url" in self.errors:
            return data
        try:
            data.update(
                validate_endpoint_settings(
                    url=data.get("url") or "", event_types=data.get("event_types") or []
                )
            )
        except ValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return data


def _secret_page(
    admin_: admin.ModelAdmin, request: HttpRequest, heading: str, made: list[NewWebhookEndpoint]
) -> HttpResponse:
    context = {
        **admin_.admin_site.each_context(request),
        "opts": admin_.model._meta,
        "heading": heading,
        "made_list": made,
    }
    response = TemplateResponse(request, SECRET_TEMPLATE, context)
    response["Cache-Control"] = "no-store"
    return response


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "api_key", "types", "active", "created_at", "delivery_log")
    list_filter = ("active",)
    list_select_related = ("api_key",)
    search_fields = ("url", "api_key__name", "api_key__prefix")
    readonly_fields = ("uuid", "created_by", "created_at")
    actions = ("roll_secret",)

    @admin.display(description="event types")
    def types(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) or "all email events"

    @admin.display(description="deliveries")
    def delivery_log(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:queueing_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">delivery log</a>', url, obj.pk)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A made endpoint stays with its key: its secret and deliveries belong to that key.
        return (*self.readonly_fields, "api_key") if obj is not None else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: WebhookEndpointForm, change: bool
    ) -> None:
        data = form.cleaned_data
        if change:
            webhook_endpoint_update(
                endpoint=obj,
                url=data["url"],
                event_types=data["event_types"],
                active=data["active"],
                actor=request.user,
            )
            return
        made = webhook_endpoint_create(
            api_key=data["api_key"],
            url=data["url"],
            event_types=data["event_types"],
            active=data["active"],
            actor=request.user,
        )
        # The admin goes on with `obj` (log entry, next page): make it the stored row.
        obj.__dict__.update(
            {k: v for k, v in made.endpoint.__dict__.items() if not k.startswith("_")}
        )
        obj._state.adding = False
        request._new_webhook_endpoint = made

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue=None
    ) -> HttpResponse:
        made = getattr(request, "_new_webhook_endpoint", None)
        if made is None:
            return super().response_add(request, obj, post_url_continue)
        return _secret_page(self, request, "Webhook endpoint made", [made])

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhook_endpoint_delete(endpoint=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            webhook_endpoint_delete(endpoint=endpoint, actor=request.user)

    @admin.action(
        description="Roll the signing secret of the selected endpoints", permissions=["change"]
    )
    def roll_secret(
        self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]
    ) -> HttpResponse:
        made = [
            webhook_endpoint_roll_secret(endpoint=endpoint, actor=request.user)
            for endpoint in queryset.select_related("api_key")
        ]
        return _secret_page(self, request, "New signing secrets", made)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "msg_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "event_type", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("msg_id",)
    show_full_result_count = False  # no full-table count on a log that grows
    actions = ("retry_now",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changeform_view(
        self, request: HttpRequest, object_id=None, form_url="", extra_context=None
    ) -> HttpResponse:
        # A log entry: shown, never saved.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.action(description="Retry the selected deliveries now", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = webhook_deliveries_retry(deliveries=list(queryset), actor=request.user)
        self.message_user(
            request, f"{count} delivery(ies) will be sent again now.", messages.SUCCESS
        )
