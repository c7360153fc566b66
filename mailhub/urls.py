from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from mailhub.api import api


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/", api.urls),
    path("", include("recipients.urls")),
]
