"""Every answer under /api is JSON in Resend's shape: unknown paths, wrong methods, oversized
bodies, server errors, CSRF refusals and redirects; the OpenAPI description and docs page."""

import pytest
from django.http import HttpResponse, HttpResponseRedirect
from django.test import Client
from django.urls import include, path

from mailhub.urls import urlpatterns as site_urls
from queueing import selectors
from tests.api.conftest import assert_error, email

pytestmark = pytest.mark.django_db


def _not_exempt(request):
    return HttpResponse("<p>plain view</p>")


def _redirect(request):
    return HttpResponseRedirect("/api/emails")


def _boom(request):
    raise RuntimeError("outside ninja")


# A URLconf with views under /api that are not the API's: they show the middleware at work
# on answers ninja never made (Django's CSRF refusal, a redirect, an HTML 500).
urlpatterns = [
    path("api/_probe/csrf", _not_exempt),
    path("api/_probe/redirect", _redirect),
    path("api/_probe/boom", _boom),
    path("", include(site_urls)),
]


def test_unknown_path_and_method(api):
    assert_error(api.get("/nothing/here"), 404, "not_found")
    assert_error(api.call("DELETE", "/emails"), 405, "method_not_allowed")
    assert_error(api.call("PUT", "/emails/batch"), 405, "method_not_allowed")


def test_unhandled_error_in_a_view_is_json_500(api, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(selectors, "api_messages_page", broken)
    assert_error(api.get("/emails"), 500, "internal_server_error")


@pytest.mark.urls(__name__)
def test_csrf_refusal_is_json(send_key):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/_probe/csrf",
        b"{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {send_key.secret}",
    )
    assert_error(response, 403, "invalid_access")


@pytest.mark.urls(__name__)
def test_api_views_need_no_csrf_token(send_key):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/emails",
        email(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {send_key.secret}"},
    )
    assert response.status_code == 200, response.content


@pytest.mark.urls(__name__)
def test_redirect_is_json(send_key):
    response = Client().get("/api/_probe/redirect")
    body = assert_error(response, 302, "redirect", "/api/emails")
    assert response["Location"] == "/api/emails" and body


@pytest.mark.urls(__name__)
def test_error_outside_the_api_views_is_json_500():
    response = Client(raise_request_exception=False).get("/api/_probe/boom")
    assert_error(response, 500, "internal_server_error")


def test_pages_outside_api_keep_html(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_api_is_exempt_from_the_ssl_redirect(api, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert api.get("/emails").status_code == 200
    assert Client().get("/admin/").status_code == 301


def test_openapi_describes_the_validating_schemas(client):
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    assert set(paths) >= {"/api/emails", "/api/emails/batch", "/api/emails/{email_id}"}
    send = spec["components"]["schemas"]["SendEmail"]
    assert {"from", "to", "subject", "priority", "scheduled_at"} <= set(send["properties"])
    assert send["additionalProperties"] is False
    assert spec["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"


def test_docs_page(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content
