"""django-rq's dashboard inside the admin (RQ_SHOW_ADMIN_LINK), behind the same permission
as its pages under /admin/rq/ (mailhub.rq_access): shown and usable only with it."""

from django.contrib import admin
from django.http import HttpRequest
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard

from mailhub.rq_access import guard_patterns, may_use_rq


class GuardedQueueAdmin(QueueAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_use_rq(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_use_rq(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_use_rq(request.user)

    def get_urls(self):
        return guard_patterns(super().get_urls())


if admin.site.is_registered(Dashboard):  # django-rq registers it when RQ_SHOW_ADMIN_LINK
    admin.site.unregister(Dashboard)
    admin.site.register(Dashboard, GuardedQueueAdmin)
