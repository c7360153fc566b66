"""Sender domain pauses in the admin: why a domain's messages wait, and lifting the pause.

Pauses are made by the worker when Resend refuses a sending domain (queueing.sender_pauses);
here staff read them and, once the domain is fixed at Resend, lift them. Lifting needs the
model's change permission (`queueing.change_senderdomainpause`); nothing else is editable.
"""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from queueing.models import MessageStatus, SenderDomainPause
from queueing.sender_pauses import sender_domain_pause_lift


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("paused", "Paused"), ("lifted", "Lifted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "paused":
            return queryset.filter(lifted_at__isnull=True)
        if self.value() == "lifted":
            return queryset.filter(lifted_at__isnull=False)
        return queryset


@admin.register(SenderDomainPause)
class SenderDomainPauseAdmin(admin.ModelAdmin):
    list_display = ("domain", "state", "reason", "created_at", "lifted_at", "lifted_by", "held")
    list_filter = (ActiveFilter,)
    search_fields = ("domain",)
    fields = ("domain", "reason", "message_id", "created_at", "lifted_at", "lifted_by", "held")
    readonly_fields = fields
    actions = ("lift",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a pause comes from Resend's answer, never typed in

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of what happened stays; lifting ends a pause

    @admin.display(description="state")
    def state(self, obj: SenderDomainPause) -> str:
        return "lifted" if obj.lifted_at else "paused"

    @admin.display(description="messages")
    def held(self, obj: SenderDomainPause) -> str:
        # A link, not a count: counting queued rows per domain would read the whole queue.
        query = urlencode({"status__exact": MessageStatus.QUEUED, "from_domain": obj.domain})
        url = f"{reverse('admin:queueing_message_changelist')}?{query}"
        return format_html('<a href="{}">queued from {}</a>', url, obj.domain)

    @admin.action(description="Lift the pause of the selected domains", permissions=("change",))
    def lift(self, request: HttpRequest, queryset: QuerySet[SenderDomainPause]) -> None:
        domains = sorted(
            set(queryset.filter(lifted_at__isnull=True).values_list("domain", flat=True))
        )
        lifted = [d for d in domains if sender_domain_pause_lift(domain=d, actor=request.user)]
        if lifted:
            self.message_user(
                request,
                f"Lifted: {', '.join(lifted)}. Their held messages go now.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, "None of the selected domains was paused.", messages.WARNING)
