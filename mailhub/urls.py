from django.contrib import admin
from django.urls import include, path
from django_rq.urls import urlpatterns as rq_urlpatterns

from mailhub.api import api
from mailhub.metrics.views import metrics
from mailhub.rq_access import guard_patterns
from queueing.webhooks import resend_webhook

# /healthz and /readyz are answered by mailhub.health.HealthMiddleware, before routing.
urlpatterns = [
    # django-rq's pages, each behind mailhub.rq_access (its own check is only "is staff").
    path("admin/rq/", include((guard_patterns(rq_urlpatterns), "django_rq"))),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("api/", api.urls),
    path("webhooks/resend", resend_webhook, name="resend_webhook"),
    path("", include("recipients.urls")),
]
