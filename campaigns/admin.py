"""Admin for templates and campaigns. Thin: every change goes through campaigns.services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from campaigns import services
from campaigns.forms import CampaignForm, PreviewForm, SendForm, TemplateForm, TestSendForm
from campaigns.models import Campaign, Template
from campaigns.rendering import template_preview
from campaigns.selectors import (
    campaign_progress,
    campaign_rates,
    campaign_statistics,
    campaign_top_links,
)
from campaigns.services.guard_rails import campaign_guard_acknowledge
from queueing.validation import describe_error
from recipients.selectors import recipient_by_email

EDITABLE = (Campaign.Status.DRAFT,)

# The permissions each custom view needs (mailhub/roles.py gives them to roles).
SEND = "campaigns.send_campaign"  # send, schedule, pause, resume, cancel
TEST_SEND = "campaigns.test_send"
VIEW_TEMPLATE = "campaigns.view_template"
ACKNOWLEDGE_GUARD = "campaigns.acknowledge_guard"  # managers: lift a finished campaign's flag
# A preview or test send for a real recipient shows that person's data.
VIEW_RECIPIENT = "recipients.view_recipient"


def require(request: HttpRequest, *permissions: str) -> None:
    """403 (PermissionDenied) unless the user holds every one of `permissions`."""
    if not request.user.has_perms(permissions):
        raise PermissionDenied("You may not do this.")


def without_recipient_field(form, request: HttpRequest):
    """Hide the recipient field from those who may not see recipients."""
    if not request.user.has_perm(VIEW_RECIPIENT):
        del form.fields["recipient"]
    return form


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    list_display = ["name", "slug", "body_format", "updated_at", "preview_link"]
    search_fields = ["name", "slug", "subject"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="preview")
    def preview_link(self, obj: Template) -> str:
        return format_html(
            '<a href="{}">Preview</a>', reverse("admin:campaigns_template_preview", args=[obj.pk])
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", view(self.preview_view), name="campaigns_template_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require(request, VIEW_TEMPLATE)
        if request.GET.get("recipient"):
            require(request, VIEW_RECIPIENT)
        template = get_object_or_404(Template, pk=pk)
        form = without_recipient_field(PreviewForm(request.GET or None), request)
        recipient, error = None, ""
        if form.is_valid() and form.cleaned_data.get("recipient"):
            recipient = recipient_by_email(form.cleaned_data["recipient"])
            if recipient is None:
                error = (
                    f"No recipient {form.cleaned_data['recipient']!r}; showing the sample person."
                )
        try:
            rendered = template_preview(template, recipient)
        except Exception as exc:
            rendered, error = None, f"The template does not render: {exc}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": template,
            "title": f"Preview: {template.name}",
            "form": form,
            "rendered": rendered,
            "recipient": recipient,
            "error": error,
        }
        return TemplateResponse(request, "campaigns/admin/preview.html", context)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "status",
        "audience_size",
        "sent",
        "failed",
        "suppressed",
        "scheduled_at",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["name"]
    filter_horizontal = ["lists"]
    change_form_template = "campaigns/admin/change_form.html"
    actions = ["acknowledge_guard"]
    readonly_fields = [
        "status", "pause_reason", "guard", "progress", "rates", "statistics", "audience_size", "queued", "sent", "failed", "suppressed",
        "cancelled", "delivered", "bounced", "opened", "clicked", "scheduled_at", "started_at",
        "finished_at", "created_by", "sent_by", "frozen_at", "fanout_cursor", "fanout_finished_at",
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE:
            return [*CampaignForm.Meta.fields, *self.readonly_fields]
        return self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="progress")
    def progress(self, obj: Campaign) -> str:
        if obj.pk is None or obj.status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            return "—"
        return campaign_progress(obj).describe()

    @admin.display(description="rates")
    def rates(self, obj: Campaign) -> str:
        if obj.pk is None:
            return "—"
        return ", ".join(f"{name} {value}%" for name, value in campaign_rates(obj).items())

    @admin.display(description="statistics")
    def statistics(self, obj: Campaign) -> str:
        """A small read-only panel: the webhook-fed figures with their rates, and the links
        people clicked most. Reads counters only."""
        if obj.pk is None:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}% of {}</td></tr>",
            (
                (f.name.replace("_", " "), f"{f.count:,}", f.rate, f.of)
                for f in campaign_statistics(obj)
            ),
        )
        links = format_html_join(
            "",
            "<tr><td>{}</td><td>{} people</td><td>{} clicks</td></tr>",
            (
                (link.url, f"{link.unique_clicks:,}", f"{link.clicks:,}")
                for link in campaign_top_links(obj)
            ),
        )
        return format_html('<table class="campaign-statistics">{}{}</table>', rows, links)

    @admin.display(description="guard rail")
    def guard(self, obj: Campaign) -> str:
        if not obj.guard_flagged_at:
            return "—"
        if obj.guard_acknowledged_at:
            return f"{obj.guard_flag} (acknowledged {obj.guard_acknowledged_at:%Y-%m-%d %H:%M})"
        return f"{obj.guard_flag}: the next campaign from its sending domain waits for a manager"

    def has_acknowledge_guard_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ACKNOWLEDGE_GUARD)

    @admin.action(description="Acknowledge guard-rail flag", permissions=["acknowledge_guard"])
    def acknowledge_guard(self, request: HttpRequest, queryset) -> None:
        done = 0
        for campaign in queryset:
            try:
                campaign_guard_acknowledge(campaign=campaign, actor=request.user)
            except ValidationError as exc:
                messages.error(request, describe_error(exc))
            else:
                done += 1
        if done:
            messages.success(request, f"{done} guard-rail flag(s) acknowledged.")

    def get_urls(self):
        view = self.admin_site.admin_view
        actions = [
            path("<int:pk>/send/", view(self.send_view), name="campaigns_campaign_send"),
            path("<int:pk>/test/", view(self.test_view), name="campaigns_campaign_test"),
        ]
        for action in ("pause", "resume", "cancel"):
            actions.append(
                path(
                    f"<int:pk>/{action}/",
                    view(require_POST(self.action_view(action))),
                    name=f"campaigns_campaign_{action}",
                )
            )
        return [*actions, *super().get_urls()]

    def _change_url(self, campaign: Campaign) -> str:
        return reverse("admin:campaigns_campaign_change", args=[campaign.pk])

    def _page(self, request, campaign, title, template, **extra) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": campaign,
            "title": title,
            **extra,
        }
        return TemplateResponse(request, template, context)

    def send_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A confirmation page showing the audience count; the POST starts (or schedules) it."""
        require(request, SEND)
        campaign = get_object_or_404(Campaign, pk=pk)
        form = SendForm(request.POST or None)
        plan, error = None, ""
        try:
            plan = services.campaign_check_sendable(campaign)
        except ValidationError as exc:
            error = describe_error(exc)
        if request.method == "POST" and plan is not None and form.is_valid():
            try:
                done = services.campaign_send(
                    campaign=campaign,
                    user=request.user,
                    scheduled_at=form.cleaned_data["scheduled_at"],
                )
            except ValidationError as exc:
                error = describe_error(exc)
            else:
                when = (
                    f"scheduled for {done.scheduled_at:%Y-%m-%d %H:%M %Z}"
                    if done.scheduled_at
                    else "sending"
                )
                messages.success(
                    request, f"Campaign {campaign.name!r} is {when}: {done.audience:,} recipients."
                )
                return HttpResponseRedirect(self._change_url(campaign))
        return self._page(
            request,
            campaign,
            f"Send {campaign.name}?",
            "campaigns/admin/send.html",
            form=form,
            plan=plan,
            error=error,
        )

    def test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require(request, TEST_SEND)
        if request.POST.get("recipient"):
            require(request, VIEW_RECIPIENT)
        campaign = get_object_or_404(Campaign, pk=pk)
        form = without_recipient_field(TestSendForm(request.POST or None), request)
        if request.method == "POST" and form.is_valid():
            recipient = None
            if form.cleaned_data.get("recipient"):
                recipient = recipient_by_email(form.cleaned_data["recipient"])
                if recipient is None:
                    form.add_error("recipient", "No such recipient.")
            if not form.errors:
                try:
                    sent = services.campaign_test_send(
                        campaign=campaign,
                        to=form.cleaned_data["to"],
                        recipient=recipient,
                        user=request.user,
                    )
                except ValidationError as exc:
                    form.add_error(None, describe_error(exc))
                else:
                    messages.success(request, f"Test sent to {', '.join(m.to[0] for m in sent)}.")
                    return HttpResponseRedirect(self._change_url(campaign))
        return self._page(
            request,
            campaign,
            f"Test send: {campaign.name}",
            "campaigns/admin/test_send.html",
            form=form,
        )

    def action_view(self, action: str):
        service = {
            "pause": services.campaign_pause,
            "resume": services.campaign_resume,
            "cancel": services.campaign_cancel,
        }[action]

        def view(request: HttpRequest, pk: int) -> HttpResponse:
            require(request, SEND)
            campaign = get_object_or_404(Campaign, pk=pk)
            try:
                result = service(campaign=campaign, actor=request.user)
            except ValidationError as exc:
                messages.error(request, describe_error(exc))
            else:
                extra = f" {result:,} unsent messages cancelled." if action == "cancel" else ""
                messages.success(request, f"Campaign {campaign.name!r}: {action} done.{extra}")
            return HttpResponseRedirect(self._change_url(campaign))

        return view
