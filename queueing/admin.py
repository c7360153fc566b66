"""Messages in the admin: a read-only view of the queue, a compose page, retry and cancel."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from queueing import sending_gate
from queueing.forms import ComposeForm
from queueing.models import Message, MessageAttachment, MessageEvent, MessageStatus
from queueing.send_again import message_send_again
from queueing.services import message_cancel, message_retry, retry_refusal

STATUS_COLOURS = {
    MessageStatus.QUEUED: "#6c757d",
    MessageStatus.SCHEDULED: "#6f42c1",
    MessageStatus.SENDING: "#0d6efd",
    MessageStatus.SENT: "#198754",
    MessageStatus.DELIVERED: "#198754",
    MessageStatus.OPENED: "#198754",
    MessageStatus.CLICKED: "#198754",
    MessageStatus.FAILED: "#dc3545",
    MessageStatus.BOUNCED: "#dc3545",
    MessageStatus.COMPLAINED: "#dc3545",
    MessageStatus.SUPPRESSED: "#fd7e14",
    MessageStatus.CANCELLED: "#adb5bd",
}


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageEventInline(ReadOnlyInline):
    model = MessageEvent
    fields = ("created_at", "kind", "provider_event", "detail")
    readonly_fields = fields
    verbose_name_plural = "Timeline"


class MessageAttachmentInline(ReadOnlyInline):
    model = MessageAttachment
    fields = ("filename", "content_type", "size")
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "subject",
        "recipients_short",
        "status_badge",
        "priority",
        "attempts",
        "source",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "priority", "source", "failure_code", "created_at")
    search_fields = ("=id", "=uuid", "=provider_id", "subject", "to")
    date_hierarchy = None
    list_per_page = 50
    # Counting a million rows on every page view is what makes admin lists slow.
    show_full_result_count = False
    ordering = ("-created_at",)
    actions = ("retry_messages", "cancel_messages", "send_again")
    inlines = (MessageAttachmentInline, MessageEventInline)
    fieldsets = (
        (None, {"fields": ("uuid", "status", "failure_code", "last_error", "provider_id")}),
        ("Envelope", {"fields": ("from_email", "to", "cc", "bcc", "reply_to", "subject")}),
        ("Body", {"fields": ("html", "text", "headers", "tags"), "classes": ("collapse",)}),
        (
            "Queue",
            {
                "fields": (
                    "priority",
                    "attempts",
                    "max_attempts",
                    "scheduled_at",
                    "next_attempt_at",
                    "first_attempt_at",
                    "claimed_by",
                    "lease_expires_at",
                    "idempotency_key",
                )
            },
        ),
        (
            "Origin",
            {
                "fields": (
                    "source",
                    "created_by",
                    "campaign",
                    "recipient",
                    "created_at",
                    "queued_at",
                    "sent_at",
                )
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A message is a record of what was asked and what happened: nobody edits it.
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The table is the queue's record: cancel what should not go, never erase what went.
        return False

    def get_urls(self) -> list:
        compose = self.admin_site.admin_view(self.compose_view)
        return [
            path("compose/", compose, name="queueing_message_compose"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:queueing_message_compose"))

    def compose_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse("You may not send email.", status=403)
        form = ComposeForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            message = form.send(request.user)
            if message is not None:
                when = "scheduled" if message.scheduled_at else "queued"
                self.message_user(request, f"Message #{message.pk} {when}.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:queueing_message_change", args=[message.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Compose email",
            "form": form,
            "opts": self.model._meta,
            "sending_pause": sending_gate.current_pause(),
        }
        return TemplateResponse(request, "admin/queueing/message/compose.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "sending_pause": sending_gate.current_pause()}
        return super().changelist_view(request, extra_context)

    @admin.display(description="To")
    def recipients_short(self, obj: Message) -> str:
        shown = ", ".join(obj.to[:2])
        return shown + (f" +{len(obj.to) - 2}" if len(obj.to) > 2 else "")

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Message) -> str:
        colour = STATUS_COLOURS.get(obj.status, "#6c757d")
        return format_html(
            '<span style="color:#fff;background:{};padding:1px 6px;border-radius:8px">{}</span>',
            colour,
            obj.get_status_display(),
        )

    # Actions are offered, and run, only for those holding their permission (mailhub/roles.py).
    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("queueing.retry_message")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("queueing.cancel_message")

    @admin.action(description="Retry selected failed messages", permissions=["retry"])
    def retry_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        retried = 0
        for m in queryset.filter(status=MessageStatus.FAILED):
            if refusal := retry_refusal(m):
                self.message_user(request, f"#{m.pk} not retried: {refusal}.", messages.WARNING)
            else:
                retried += message_retry(message=m, actor=request.user)
        skipped = queryset.count() - retried
        self.message_user(request, f"{retried} message(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} message(s) skipped: only failed messages can be retried, and never "
                "members of a batch, those with an idempotency conflict (Resend may already "
                "hold them) or those Resend failed after accepting them (send those again as "
                "new messages).",
                messages.WARNING,
            )

    @admin.action(description="Send selected again as new messages", permissions=["add"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        for message in queryset[:100]:
            try:
                copy = message_send_again(message=message, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.WARNING)
            else:
                self.message_user(
                    request, f"#{message.pk} sent again as #{copy.pk}.", messages.SUCCESS
                )

    @admin.action(
        description="Cancel selected queued or scheduled messages", permissions=["cancel"]
    )
    def cancel_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        cancelled = sum(
            message_cancel(message=m, reason="cancelled in the admin", actor=request.user)
            for m in queryset
        )
        skipped = queryset.count() - cancelled
        self.message_user(request, f"{cancelled} message(s) cancelled.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} message(s) were already being sent or finished and were left alone.",
                messages.WARNING,
            )


# Sender domain pauses, API keys, their webhook endpoints and provider webhooks have admin
# modules of their own (registered on import).
from queueing import admin_api_keys, admin_events, admin_pauses, admin_webhooks  # noqa: E402, F401
