"""Messages in the admin: a read-only view of the queue, a compose page, retry, cancel and
"send again" (from the list and from a message's page), each behind its permission.

Reads go through queueing.selectors, writes through queueing.services (and send_again);
the page's sections are templates/admin/queueing/message/change_form.html.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import AdminForm
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from queueing import sending_gate
from queueing.admin_message_filters import CampaignFilter, CheckedChangeList
from queueing.admin_pagination import CappedCountPaginator
from queueing.badges import BADGE_CSS, message_status_badge
from queueing.forms import ComposeForm
from queueing.local_times import LOCAL_TIME_JS, local_time
from queueing.models import PENDING_STATUSES, Message, MessageStatus
from queueing.selectors import SUBJECT_SEARCH_ROWS, message_search, message_timeline
from queueing.send_again import message_send_again, send_again_refusal
from queueing.services import (
    UNSENT,
    message_cancel,
    message_retry,
    message_retry_by_hand,
    retry_refusal,
)

# Inside the preview frame: no remote content at all (a tracking pixel would count staff
# reading the page as an open), inline styles and data: images allowed.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"


def preview_srcdoc(html: str) -> str:
    """The HTML part as the preview frame's document (escaped by the template into srcdoc)."""
    return f'<meta http-equiv="Content-Security-Policy" content="{PREVIEW_CSP}">{html}'


# What the list never reads: a page of 50 messages would otherwise carry 50 bodies.
BODY_FIELDS = ("html", "text", "headers", "tags")


class MessageChangeList(CheckedChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        return super().get_queryset(request, exclude_parameters).defer(*BODY_FIELDS)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    # Facet counts ("Show counts") would count every row of the table once per filter.
    show_facets = admin.ShowFacets.NEVER
    # What fits 1280 px beside the admin's navigation and the filters: priority, source and
    # the sending times are filters, and on each message's page.
    list_display = ("id", "subject_short", "recipients_short", "status_badge", "created_short")
    list_display_links = ("id", "subject_short")
    list_filter = (
        "status",
        CampaignFilter,
        "priority",
        "source",
        ("created_at", admin.DateFieldListFilter),
        "failure_code",
    )
    # The search itself is queueing.selectors.message_search (get_search_results below);
    # Django shows the box when search_fields is set.
    search_fields = ("subject",)
    search_help_text = (
        "An address (exact, any recipient), a uuid or Resend id (exact), #id, or words of "
        f"the subject (among the newest {SUBJECT_SEARCH_ROWS:,} messages)."
    )
    list_per_page = 50
    # Counting a million rows on every page view is what makes admin lists slow: the
    # paginator counts at most COUNT_CAP, and the "of all" second count is off.
    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ("-created_at",)
    actions = ("retry_messages", "cancel_messages", "send_again")
    change_form_template = "admin/queueing/message/change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "status_badge",
                    "failure_code",
                    "last_error",
                    "subject",
                    "from_email",
                    "to_list",
                    "cc_list",
                    "bcc_list",
                    "reply_to_list",
                )
            },
        ),
        (
            "Queue",
            {
                "classes": ("collapse",),
                "fields": (
                    "uuid",
                    "provider_id",
                    "priority",
                    "attempts",
                    "max_attempts",
                    "scheduled",
                    "next_attempt",
                    "first_attempt",
                    "claimed_by",
                    "lease_expires",
                    "batch_link",
                    "idempotency_key",
                ),
            },
        ),
        (
            "Origin",
            {
                "classes": ("collapse",),
                "fields": (
                    "source",
                    "created_by",
                    "campaign",
                    "recipient",
                    "created",
                    "queued",
                    "sent",
                ),
            },
        ),
    )

    class Media:
        css = {"all": [BADGE_CSS, "mailhub/messages_admin.css"]}
        js = [LOCAL_TIME_JS, "mailhub/message_live.js"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A message is a record of what was asked and what happened: nobody edits it.
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The table is the queue's record: cancel what should not go, never erase what went.
        return False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return MessageChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return message_search(queryset, search_term), False

    # --- pages ---

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        # The page's buttons change things: POST only (a GET is 405, nothing done).
        return [
            path("compose/", view(self.compose_view), name="queueing_message_compose"),
            path(
                "<int:pk>/retry/",
                view(require_POST(self.retry_view)),
                name="queueing_message_retry",
            ),
            path(
                "<int:pk>/cancel/",
                view(require_POST(self.cancel_view)),
                name="queueing_message_cancel",
            ),
            path(
                "<int:pk>/send-again/",
                view(require_POST(self.send_again_view)),
                name="queueing_message_send_again",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:queueing_message_compose"))

    def compose_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied("You may not send email.")
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
            "adminform": AdminForm(form, form.fieldsets, {}),
            "form": form,
            "media": self.media + form.media,
            "opts": self.model._meta,
            "sending_pause": sending_gate.current_pause(),
        }
        return TemplateResponse(request, "admin/queueing/message/compose.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "sending_pause": sending_gate.current_pause()}
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        message = self.get_object(request, object_id)
        extra = {}
        if message is not None and self.has_view_permission(request, message):
            extra = {
                "message": message,
                "timeline": message_timeline(message),
                "attachments": list(message.attachments.all()),
                "pending": message.status in PENDING_STATUSES,
                "preview_srcdoc": preview_srcdoc(message.html),
                **self._page_actions(request, message),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _page_actions(self, request: HttpRequest, message: Message) -> dict[str, Any]:
        """Which of the page's buttons to show: the user holds the permission, and the
        message is in a state where the action can do something."""
        return {
            "can_retry": self.has_retry_permission(request)
            and message.status == MessageStatus.FAILED
            and not retry_refusal(message),
            "can_cancel": self.has_cancel_permission(request)
            and message.status in UNSENT
            and message.batch_id is None,
            "can_send_again": self.has_add_permission(request) and not send_again_refusal(message),
        }

    def _acted_on(self, request: HttpRequest, pk: int, allowed: bool) -> Message:
        if not allowed:
            raise PermissionDenied
        message = get_object_or_404(Message, pk=pk)
        if not self.has_view_permission(request, message):
            raise Http404
        return message

    def _back(self, pk: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:queueing_message_change", args=[pk]))

    def retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        message = self._acted_on(request, pk, self.has_retry_permission(request))
        if why := message_retry_by_hand(message=message, actor=request.user):
            self.message_user(request, f"Message #{pk} cannot be retried: {why}.", messages.WARNING)
        else:
            self.message_user(request, f"Message #{pk} queued again.", messages.SUCCESS)
        return self._back(pk)

    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        message = self._acted_on(request, pk, self.has_cancel_permission(request))
        if message_cancel(message=message, reason="cancelled in the admin", actor=request.user):
            self.message_user(request, f"Message #{pk} cancelled.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"Message #{pk} was left alone: it is already being sent or finished.",
                messages.WARNING,
            )
        return self._back(pk)

    def send_again_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        message = self._acted_on(request, pk, self.has_add_permission(request))
        try:
            copy = message_send_again(message=message, actor=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.WARNING)
            return self._back(pk)
        self.message_user(request, f"Message #{pk} sent again as #{copy.pk}.", messages.SUCCESS)
        return self._back(copy.pk)

    # --- columns and fields ---

    @admin.display(description="Subject")  # not sortable: no index, a sort of every row
    def subject_short(self, obj: Message) -> str:
        return format_html(
            '<span class="mh-ellipsis" title="{}">{}</span>', obj.subject, obj.subject
        )

    @admin.display(description="To")
    def recipients_short(self, obj: Message) -> str:
        first = obj.to[0] if obj.to else "—"
        more = len(obj.to) + len(obj.cc) + len(obj.bcc) - 1
        extra = format_html(' <span class="mh-more">+{}</span>', more) if more > 0 else ""
        return format_html(
            '<span class="mh-ellipsis mh-ellipsis--short" title="{}">{}</span>{}',
            ", ".join(obj.to),
            first,
            extra,
        )

    @admin.display(description="Status")  # not sortable, like Subject
    def status_badge(self, obj: Message) -> str:
        return message_status_badge(obj.status)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Message) -> str:
        return local_time(obj.created_at)

    @admin.display(description="Created")
    def created_short(self, obj: Message) -> str:
        return local_time(obj.created_at, short=True)

    @admin.display(description="Sent", ordering="sent_at")
    def sent(self, obj: Message) -> str:
        return local_time(obj.sent_at)

    @admin.display(description="Queued")
    def queued(self, obj: Message) -> str:
        return local_time(obj.queued_at)

    @admin.display(description="Scheduled for")
    def scheduled(self, obj: Message) -> str:
        return local_time(obj.scheduled_at)

    @admin.display(description="Next attempt")
    def next_attempt(self, obj: Message) -> str:
        return local_time(obj.next_attempt_at)

    @admin.display(description="First attempt")
    def first_attempt(self, obj: Message) -> str:
        return local_time(obj.first_attempt_at)

    @admin.display(description="Lease expires")
    def lease_expires(self, obj: Message) -> str:
        return local_time(obj.lease_expires_at)

    @admin.display(description="Batch")
    def batch_link(self, obj: Message) -> str:
        if obj.batch_id is None:
            return "—"
        url = reverse("admin:queueing_sendbatch_change", args=[obj.batch_id])
        return format_html('<a href="{}">batch #{}</a>', url, obj.batch_id)

    @admin.display(description="To")
    def to_list(self, obj: Message) -> str:
        return _addresses(obj.to)

    @admin.display(description="Cc")
    def cc_list(self, obj: Message) -> str:
        return _addresses(obj.cc)

    @admin.display(description="Bcc")
    def bcc_list(self, obj: Message) -> str:
        return _addresses(obj.bcc)

    @admin.display(description="Reply-To")
    def reply_to_list(self, obj: Message) -> str:
        return _addresses(obj.reply_to)

    # --- list actions: offered, and run, only for those holding their permission ---

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


def _addresses(values: list[str]) -> str:
    """Stored addresses one per line, as people write them (never the JSON list)."""
    if not values:
        return "—"
    return format_html_join(mark_safe("<br>"), "{}", ((v,) for v in values))


# Sender domain pauses, API keys, their webhook endpoints, provider webhooks and send
# batches have admin modules of their own (registered on import).
from queueing import (  # noqa: E402, F401
    admin_api_keys,
    admin_batches,
    admin_events,
    admin_pauses,
    admin_webhooks,
)
