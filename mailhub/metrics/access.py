"""Who may read /metrics: a scraper with the bearer token, or staff with the permission.

The token (settings.MAILHUB_METRICS_TOKEN) is compared in constant time; empty turns token
access off. A request that shows a token is judged by the token alone, so a wrong token is a
401 even from a logged-in browser. Without one: no login → 401 (with the bearer challenge),
logged in without `queueing.view_metrics` → 403.
"""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PERMISSION = "queueing.view_metrics"


def refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, else the answer to give."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if header:
        expected = settings.MAILHUB_METRICS_TOKEN
        if (
            scheme.lower() == "bearer"
            and expected
            and hmac.compare_digest(presented.strip().encode(), expected.encode())
        ):
            return None
        return _unauthorized("invalid token")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return _unauthorized("a bearer token or a staff login is needed")
    if not (user.is_active and user.is_staff and user.has_perm(PERMISSION)):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return None


def _unauthorized(why: str) -> HttpResponse:
    answer = HttpResponse(f"unauthorized: {why}\n", status=401, content_type="text/plain")
    answer["WWW-Authenticate"] = 'Bearer realm="mailhub metrics"'
    return answer
