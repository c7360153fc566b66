"""Stored provider webhooks in the admin: read-only, with "process again" for failed ones."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from queueing.admin_read_only import ReadOnlyAdminMixin
from queueing.models import ProviderWebhookEvent
from queueing.provider_events.reprocess import webhook_events_reprocess
from queueing.resend.events import kind_of


class ProcessedFilter(admin.SimpleListFilter):
    title = "processing"
    parameter_name = "processing"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", "Waiting"), ("failed", "Failed"), ("done", "Processed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        match self.value():
            case "waiting":
                return queryset.filter(processed_at__isnull=True, error="")
            case "failed":
                return queryset.filter(processed_at__isnull=True).exclude(error="")
            case "done":
                return queryset.filter(processed_at__isnull=False)
        return queryset


@admin.register(ProviderWebhookEvent)
class ProviderWebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "type", "known", "message_link", "received_at", "processed_at", "failed")
    list_filter = (ProcessedFilter, "type")
    search_fields = ("=svix_id", "=id")
    list_per_page = 50
    show_full_result_count = False
    list_select_related = ()
    raw_id_fields = ("message",)
    fields = (
        "svix_id",
        "type",
        "message",
        "received_at",
        "processed_at",
        "attempts",
        "error",
        "body",
    )
    readonly_fields = fields
    actions = ("reprocess_events",)

    @admin.display(description="Known type", boolean=True)
    def known(self, obj: ProviderWebhookEvent) -> bool:
        return bool(kind_of(obj.type))

    @admin.display(description="Message")
    def message_link(self, obj: ProviderWebhookEvent) -> str:
        if obj.message_id is None:
            return "—" if obj.processed_at else ""
        url = reverse("admin:queueing_message_change", args=[obj.message_id])
        return format_html('<a href="{}">#{}</a>', url, obj.message_id)

    @admin.display(description="Error")
    def failed(self, obj: ProviderWebhookEvent) -> str:
        return obj.error[:80]

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("queueing.change_providerwebhookevent")

    @admin.action(
        description="Process selected unprocessed events again", permissions=["reprocess"]
    )
    def reprocess_events(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True)[:10_000])
        report = webhook_events_reprocess(ids=ids, actor=request.user)
        self.message_user(request, f"{report.processed} event(s) processed.", messages.SUCCESS)
        if report.already_processed:
            self.message_user(
                request,
                f"{report.already_processed} event(s) were processed before and were left "
                "alone (processing twice would count them twice).",
                messages.WARNING,
            )
        for pk, error in list(report.errors.items())[:10]:
            self.message_user(request, f"Event #{pk} failed again: {error}", messages.ERROR)
