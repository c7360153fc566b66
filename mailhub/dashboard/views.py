"""The dashboard's JSON and its controls. Thin: permissions, input, a service call.

Each control is a POST (the admin's CSRF protection applies) that answers JSON to the page's
script (`Accept: application/json`) and redirects back to the dashboard with a message
otherwise, so the buttons also work without the script.
"""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from campaigns.models import Campaign
from campaigns.services import campaign_cancel, campaign_pause, campaign_resume
from mailhub.dashboard import permissions
from mailhub.status import system_status
from queueing.models import Message
from queueing.sending_gate import operator_pause, resume_sending
from queueing.services import message_retry_by_hand
from queueing.validation import describe_error

MAX_REASON = 500


def _answer(request: HttpRequest, ok: bool, text: str, status: int = 200) -> HttpResponse:
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"ok": ok, "message": text}, status=status)
    messages.add_message(request, messages.SUCCESS if ok else messages.ERROR, text)
    return HttpResponseRedirect(reverse("admin:index"))


def _refused(request: HttpRequest) -> HttpResponse:
    """403 always (JSON for the script, Django's 403 page otherwise); nothing is done."""
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"ok": False, "message": "You may not do this."}, status=403)
    raise PermissionDenied("You may not do this.")


@never_cache
@require_GET
def status_json(request: HttpRequest) -> HttpResponse:
    """The dashboard's figures; exactly `manage.py mailhub_status --json`."""
    if not request.user.has_perm(permissions.READ):
        return JsonResponse({"error": "You may not read the dashboard."}, status=403)
    return JsonResponse(system_status().to_json())


@require_POST
def sending_resume(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(permissions.PAUSE_SENDING):
        return _refused(request)
    if resume_sending(actor=request.user):
        return _answer(request, True, "Sending resumed.")
    return _answer(request, True, "Sending was not paused.")


@require_POST
def sending_pause(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(permissions.PAUSE_SENDING):
        return _refused(request)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        return _answer(request, False, "Say why sending stops (a reason is required).", 400)
    if len(reason) > MAX_REASON:
        return _answer(request, False, f"The reason is longer than {MAX_REASON} characters.", 400)
    operator_pause(reason=reason, actor=request.user)
    return _answer(request, True, f"Sending paused: {reason}")


@require_POST
def message_retry_view(request: HttpRequest, message_id: int) -> HttpResponse:
    if not request.user.has_perm(permissions.RETRY):
        return _refused(request)
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return _answer(request, False, f"No message #{message_id}.", 404)
    if why := message_retry_by_hand(message=message, actor=request.user):
        return _answer(request, False, f"Message #{message_id} cannot be retried: {why}.", 409)
    return _answer(request, True, f"Message #{message_id} queued again.")


CAMPAIGN_ACTIONS: dict[str, tuple[Callable, str]] = {
    "pause": (campaign_pause, "paused"),
    "resume": (campaign_resume, "resumed"),
    "cancel": (campaign_cancel, "cancelled"),
}


@require_POST
def campaign_action(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    if action not in CAMPAIGN_ACTIONS:
        return _answer(request, False, f"No such action: {action}.", 404)
    if not request.user.has_perm(permissions.CAMPAIGN):
        return _refused(request)
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return _answer(request, False, f"No campaign #{campaign_id}.", 404)
    service, done = CAMPAIGN_ACTIONS[action]
    try:
        service(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        return _answer(request, False, describe_error(exc), 409)
    return _answer(request, True, f"Campaign “{campaign.name}” {done}.")
