"""The admin, named mailhub, with the live dashboard as its front page.

Set as Django's default admin site (mailhub.apps.MailhubAdminConfig), so every app's
`admin.site.register` lands here. "View site" points at the admin itself: mailhub has no
public site besides the recipients' pages reached from emails.
"""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse

from mailhub.dashboard import permissions, views
from mailhub.status import system_status


class MailhubAdminSite(AdminSite):
    site_header = "mailhub"
    site_title = "mailhub"
    index_title = "Dashboard"
    site_url = "/admin/"

    def get_urls(self):
        guard = self.admin_view  # staff only, login redirect, CSRF on POST
        return [
            path("status.json", guard(views.status_json), name="mailhub_status_json"),
            path(
                "dashboard/sending/resume/",
                guard(views.sending_resume),
                name="mailhub_sending_resume",
            ),
            path(
                "dashboard/sending/pause/", guard(views.sending_pause), name="mailhub_sending_pause"
            ),
            path(
                "dashboard/messages/<int:message_id>/retry/",
                guard(views.message_retry_view),
                name="mailhub_message_retry",
            ),
            path(
                "dashboard/campaigns/<int:campaign_id>/<slug:action>/",
                guard(views.campaign_action),
                name="mailhub_campaign_action",
            ),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context=None):
        if not request.user.has_perm(permissions.READ):
            return super().index(request, extra_context)  # the stock list of what they may use
        can = permissions.controls(request.user)
        urls = {"status": reverse("admin:mailhub_status_json")}
        if can["pause_sending"]:
            urls["resume"] = reverse("admin:mailhub_sending_resume")
            urls["pause"] = reverse("admin:mailhub_sending_pause")
        if can["retry"]:
            urls["retry"] = reverse("admin:mailhub_message_retry", args=[0])
        if can["campaigns"]:
            urls["campaign"] = reverse("admin:mailhub_campaign_action", args=[0, "pause"])
        urls["message"] = reverse("admin:queueing_message_change", args=[0])
        urls["campaign_page"] = reverse("admin:campaigns_campaign_change", args=[0])
        context = {
            **self.each_context(request),
            "title": self.index_title,
            "subtitle": None,
            "app_list": self.get_app_list(request),
            "dashboard": {
                "status": system_status().to_json(),
                "can": can,
                "urls": urls,
                "refresh_seconds": settings.MAILHUB_DASHBOARD_REFRESH_SECONDS,
            },
            **(extra_context or {}),
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/mailhub/dashboard.html", context)
