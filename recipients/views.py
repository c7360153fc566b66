"""Pages reached from links in emails: unsubscribe, preferences, double opt-in confirmation.

These views are csrf_exempt on purpose: their only credential is the secret token in the URL,
not a cookie, so a forged cross-site POST could do nothing its sender could not do directly,
and people who block cookies must still be able to leave. They are never cached.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from recipients import selectors, services
from recipients.attribution import PARAMETER, campaign_from_signature, link_unsubscribed
from recipients.exceptions import ConfirmationLinkExpired, ConfirmationLinkInvalid
from recipients.forms import ALL_MARKETING, PreferencesForm
from recipients.models import List, Recipient, Source, Subscription, Suppression
from recipients.public_names import list_public_name
from recipients.tokens import (
    read_confirmation_token,
)

ONE_CLICK_BODY = ("List-Unsubscribe", "One-Click")


def mask_email(email: str) -> str:
    """`jane.doe@example.com` → `j•••e@example.com`: enough to recognise, if a link is shared."""
    local, _, domain = email.partition("@")
    shown = local[0] + "•••" + local[-1] if len(local) > 2 else local[:1] + "•••"
    return f"{shown}@{domain}"


def invalid_link(request: HttpRequest, *, status: int = 404, expired: bool = False) -> HttpResponse:
    response = render(request, "recipients/invalid_link.html", {"expired": expired}, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response


def _page(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    response = render(request, template, context)
    response["X-Robots-Tag"] = "noindex"
    return response


def _list_from_query(request: HttpRequest, recipient: Recipient) -> List | None:
    """The `?list=` of an unsubscribe link, only if the token's owner has a subscription to it
    (in any status). Another list's slug is treated exactly like an unknown or absent one, so
    the page reveals nothing about lists that are not the person's, not even that they exist."""
    return selectors.recipient_list_by_slug(recipient, request.GET.get("list", ""))


def _unsubscribe_through_link(
    request: HttpRequest, recipient: Recipient, target: List | None, source: str
) -> None:
    """Unsubscribe, then announce it with the campaign the link names, if its signature holds
    (campaigns counts it); a forged or missing one just loses the attribution."""
    services.recipient_unsubscribe(recipient=recipient, list=target, source=source)
    campaign_id = campaign_from_signature(request.GET.get(PARAMETER))
    link_unsubscribed.send(sender=Recipient, recipient=recipient, campaign_id=campaign_id)


def _context(recipient: Recipient, *, list: List | None = None, **extra) -> dict:
    """Templates get `list_name` (recipients.public_names), never the List itself: an internal
    list's name must not reach a public page."""
    return {
        "masked_email": mask_email(recipient.email),
        "list_name": list_public_name(list) if list is not None else "",
        **extra,
    }


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page to confirm (mail scanners follow links; a GET changes nothing). POST: do it."""
    recipient = selectors.recipient_by_token(token)
    if recipient is None:
        return invalid_link(request)
    target = _list_from_query(request, recipient)
    context = _context(
        recipient, list=target, preferences_url=reverse("recipients:preferences", args=[token])
    )
    if request.method == "POST":
        _unsubscribe_through_link(request, recipient, target, "unsubscribe")
        return _page(request, "recipients/unsubscribed.html", context)
    return _page(request, "recipients/unsubscribe.html", context)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def one_click_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click`; unsubscribe at once."""
    recipient = selectors.recipient_by_token(token)
    if recipient is None:
        return HttpResponse(
            "This unsubscribe link is not valid.", status=404, content_type="text/plain"
        )
    if request.method == "GET":
        # A person (or a scanner) opened the link: show the confirm page, change nothing.
        url = reverse("recipients:unsubscribe", args=[token])
        query = request.GET.urlencode()
        return redirect(f"{url}?{query}" if query else url)
    name, value = ONE_CLICK_BODY
    if request.POST.get(name) != value:
        return HttpResponse(
            f"Expected a POST body of {name}={value} (RFC 8058).",
            status=400,
            content_type="text/plain",
        )
    _unsubscribe_through_link(request, recipient, _list_from_query(request, recipient), "one-click")
    return HttpResponse("You are unsubscribed.", content_type="text/plain")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    recipient = selectors.recipient_by_token(token)
    if recipient is None:
        return invalid_link(request)
    subscriptions = list(selectors.preference_subscriptions(recipient))
    suppression = selectors.suppression_for(recipient.email)
    own_unsubscribe = (
        suppression is not None and suppression.reason == Suppression.Reason.UNSUBSCRIBE
    )
    # Bounces, complaints and staff decisions are not the recipient's to lift.
    blocked = suppression is not None and not own_unsubscribe
    # Not `request.POST or None`: with every box unticked a browser posts an empty body, and
    # that must save (leave every list), not redisplay the page.
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,
        subscriptions=subscriptions,
        unsubscribed_all=own_unsubscribe,
    )
    if request.method == "POST" and form.is_valid():
        _apply_preferences(recipient, form, subscriptions, own_unsubscribe, blocked)
        return redirect(reverse("recipients:preferences", args=[token]) + "?saved=1")
    return _page(
        request,
        "recipients/preferences.html",
        _context(recipient, form=form, blocked=blocked, saved="saved" in request.GET),
    )


def _apply_preferences(
    recipient: Recipient,
    form: PreferencesForm,
    subscriptions: list[Subscription],
    own_unsubscribe: bool,
    blocked: bool,
) -> None:
    for subscription in subscriptions:
        wanted = form.cleaned_data[form.field_name(subscription)]
        active = subscription.status != Subscription.Status.UNSUBSCRIBED
        if wanted and not active:
            services.subscription_create(
                recipient=recipient, list=subscription.list, source=Source.FORM
            )
        elif active and not wanted:
            services.subscription_unsubscribe(
                subscription=subscription, source="preferences", detail="on the preference page"
            )
    if blocked:
        return
    if form.cleaned_data[ALL_MARKETING] and not own_unsubscribe:
        services.recipient_unsubscribe_all(
            recipient=recipient, source="preferences", detail="on the preference page"
        )
    elif own_unsubscribe and not form.cleaned_data[ALL_MARKETING]:
        services.recipient_resubscribe_all(recipient=recipient, source="preferences")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def confirm_subscription(request: HttpRequest, token: str) -> HttpResponse:
    """Double opt-in. GET shows a button (scanners follow links, so GET confirms nothing)."""
    try:
        subscription_id = read_confirmation_token(token)
    except ConfirmationLinkExpired:
        return invalid_link(request, status=410, expired=True)
    except ConfirmationLinkInvalid:
        return invalid_link(request)
    subscription = (
        Subscription.objects.select_related("recipient", "list").filter(pk=subscription_id).first()
    )
    if subscription is None:
        return invalid_link(request)
    if request.method == "POST":
        services.subscription_confirm(subscription=subscription)
        subscription.refresh_from_db()
    context = _context(subscription.recipient, list=subscription.list, status=subscription.status)
    return _page(request, "recipients/confirm.html", context)
