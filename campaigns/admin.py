"""Admin for templates and campaigns. Thin: every change goes through campaigns.services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from campaigns import services
from campaigns.admin_panel import (
    SEND,
    TEST_SEND,
    VIEW_CAMPAIGN,
    campaign_panel,
    progress_payload,
)
from campaigns.badges import campaign_status_badge
from campaigns.forms import CampaignForm, PreviewForm, SendForm, TemplateForm, TestSendForm
from campaigns.models import Campaign, Template
from campaigns.rendering import campaign_preview, template_preview
from campaigns.services.guard_rails import campaign_guard_acknowledge
from queueing.badges import BADGE_CSS, PROGRESS_CSS
from queueing.local_times import LOCAL_TIME_JS, local_time
from queueing.validation import describe_error
from recipients.selectors import recipient_by_email

# The permissions each custom view needs (mailhub/roles.py gives them to roles); sending,
# test sends and viewing a campaign are named in campaigns/admin_panel.py.
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
    change_form_template = "campaigns/admin/template_change_form.html"

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
        template = get_object_or_404(Template, pk=pk)
        return preview_page(
            self,
            request,
            template,
            f"Preview: {template.name}",
            lambda recipient: template_preview(template, recipient),
        )


def preview_page(model_admin, request, original, title: str, render) -> TemplateResponse:
    """A preview for a sample person or, for those who may see recipients, a named one;
    `render(recipient)` renders in a bounded child process (campaigns/bounded_render.py), so
    a template that runs away shows its error here instead of holding the web process."""
    if request.GET.get("recipient"):
        require(request, VIEW_RECIPIENT)
    form = without_recipient_field(PreviewForm(request.GET or None), request)
    recipient, error = None, ""
    if form.is_valid() and form.cleaned_data.get("recipient"):
        recipient = recipient_by_email(form.cleaned_data["recipient"])
        if recipient is None:
            error = f"No recipient {form.cleaned_data['recipient']!r}; showing the sample person."
    try:
        rendered = render(recipient)
    except Exception as exc:
        rendered, error = None, f"The template does not render: {exc}"
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": original,
        "title": title,
        "form": form,
        "rendered": rendered,
        "recipient": recipient,
        "error": error,
    }
    return TemplateResponse(request, "campaigns/admin/preview.html", context)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """A campaign's page shows what matters for its status (campaigns/admin_panel.py): a
    draft's audience and its preview, test send and send; a sending campaign's progress with
    pause and cancel; a finished one's statistics. Only a draft may be edited or deleted; the
    internal fields (frozen content, fan-out cursor, counters) are never shown as fields."""

    form = CampaignForm
    list_display = [
        "name",
        "status_badge",
        "audience_size",
        "sent",
        "failed",
        "suppressed",
        "list_scheduled",
        "list_created",
    ]
    list_filter = ["status"]
    search_fields = ["name"]
    filter_horizontal = ["lists"]
    change_form_template = "campaigns/admin/change_form.html"
    actions = ["acknowledge_guard"]
    readonly_fields = ["status_badge", "guard", "when_scheduled", "when_started", "when_finished"]
    readonly_fields += ["created_by", "sent_by"]

    class Media:
        css = {"all": [BADGE_CSS, PROGRESS_CSS, "campaigns/campaign.css"]}
        js = [LOCAL_TIME_JS, "campaigns/campaign_progress.js"]

    def get_fieldsets(self, request, obj=None):
        content = (None, {"fields": CampaignForm.Meta.fields})
        if obj is None or obj.status == Campaign.Status.DRAFT:
            return [content]
        timeline = ["when_scheduled", "when_started", "when_finished", "created_by", "sent_by"]
        if obj.guard_flagged_at:
            timeline.insert(0, "guard")
        return [content, ("Timeline", {"fields": timeline})]

    def has_change_permission(self, request, obj=None) -> bool:
        # Only a draft changes through the form; the rest moves through its controls.
        editable = obj is None or obj.status == Campaign.Status.DRAFT
        return editable and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        deletable = obj is None or obj.status == Campaign.Status.DRAFT
        return deletable and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # No bulk delete: it would take sent campaigns (and their statistics) with it.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if campaign is not None and self.has_view_or_change_permission(request, campaign):
            extra["panel"] = campaign_panel(campaign, request.user)
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Campaign) -> str:
        return campaign_status_badge(obj.status)

    @admin.display(description="scheduled for", ordering="scheduled_at")
    def list_scheduled(self, obj: Campaign) -> str:
        return local_time(obj.scheduled_at, short=True)

    @admin.display(description="created", ordering="created_at")
    def list_created(self, obj: Campaign) -> str:
        return local_time(obj.created_at, short=True)

    @admin.display(description="scheduled for")
    def when_scheduled(self, obj: Campaign) -> str:
        return local_time(obj.scheduled_at)

    @admin.display(description="started")
    def when_started(self, obj: Campaign) -> str:
        return local_time(obj.started_at)

    @admin.display(description="finished")
    def when_finished(self, obj: Campaign) -> str:
        return local_time(obj.finished_at)

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
            path("<int:pk>/preview/", view(self.preview_view), name="campaigns_campaign_preview"),
            path(
                "<int:pk>/progress.json",
                view(self.progress_view),
                name="campaigns_campaign_progress",
            ),
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

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """What this campaign sends: its frozen copy once started, else its template with
        the campaign's subject; for a sample person or a named recipient."""
        require(request, VIEW_CAMPAIGN)
        campaign = get_object_or_404(Campaign, pk=pk)
        return preview_page(
            self,
            request,
            campaign,
            f"Preview: {campaign.name}",
            lambda recipient: campaign_preview(campaign, recipient),
        )

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        """The counters the sending page polls (static/campaigns/campaign_progress.js)."""
        require(request, VIEW_CAMPAIGN)
        campaign = get_object_or_404(Campaign, pk=pk)
        return JsonResponse(progress_payload(campaign))  # admin_view adds never_cache

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
