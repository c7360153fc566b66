"""The HTTP API's campaign endpoints (scope `campaigns`; wired at /api by mailhub/api.py).

Thin: reads through campaigns.selectors, writes through the same services the admin and the
commands use (campaigns/services/sending.py, campaigns/services/lifecycle.py), so the API
refuses what they refuse. A step the campaign's status does not allow is a 422
`validation_error` naming the status, checked before the service (for the message) and again
by the service's conditional update (for a race): a refusal changes nothing.

Campaigns are made and edited in the admin (or `create_campaign`); the API reads and runs
them. Its actions have no signed-in actor, so they are not in the staff audit log.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Body, Query, Router

from campaigns import selectors, services
from campaigns.api_output import campaign_object
from campaigns.api_schemas import CampaignList, CampaignListQuery, CampaignObject, SendCampaign
from campaigns.models import Campaign
from queueing.api_auth import ApiKeyAuth
from queueing.api_errors import ApiRefused
from queueing.api_keys import api_key_actor
from queueing.api_schemas import ErrorBody
from queueing.models import ApiScope
from queueing.resend import errors
from queueing.scheduled_at import ScheduleError, parse_scheduled_at

router = Router(auth=ApiKeyAuth(ApiScope.CAMPAIGNS), tags=["Campaigns"])

Status = Campaign.Status
SENDABLE = (Status.DRAFT, Status.SCHEDULED)
PAUSABLE = (Status.SENDING,)
RESUMABLE = (Status.PAUSED,)
CANCELLABLE = (Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED)


def _errors(*codes: int) -> dict[int, type[ErrorBody]]:
    return dict.fromkeys((400, 401, 403, 429, *codes), ErrorBody)


@router.get(
    "/campaigns",
    response={200: CampaignList, **_errors(422)},
    by_alias=True,
    summary="List campaigns",
)
def list_campaigns(request: HttpRequest, query: Query[CampaignListQuery]) -> dict[str, Any]:
    if query.after and query.before:
        raise ApiRefused(errors.validation_error("Give `after` or `before`, not both."))
    page = selectors.api_campaigns_page(limit=query.limit, after=query.after, before=query.before)
    if page is None:
        raise ApiRefused(errors.validation_error("The cursor is not a campaign id."))
    return {
        "object": "list",
        "has_more": page.has_more,
        "data": [campaign_object(c) for c in page.campaigns],
    }


@router.get(
    "/campaigns/{campaign_id}",
    response={200: CampaignObject, **_errors(404)},
    by_alias=True,
    summary="Retrieve a campaign: status, progress, rates",
)
def get_campaign(request: HttpRequest, campaign_id: str) -> dict[str, Any]:
    return campaign_object(_campaign(campaign_id))


@router.post(
    "/campaigns/{campaign_id}/send",
    response={200: CampaignObject, **_errors(404, 422)},
    by_alias=True,
    summary="Send a draft now, or schedule it",
)
def send_campaign(
    request: HttpRequest, campaign_id: str, payload: Body[SendCampaign | None] = None
) -> dict[str, Any]:
    campaign = _campaign(campaign_id)
    scheduled_at = None
    if payload is not None and payload.scheduled_at is not None:
        try:
            scheduled_at = parse_scheduled_at(payload.scheduled_at, timezone.now())
        except ScheduleError as exc:
            raise ApiRefused(
                errors.validation_error(f"Invalid `scheduled_at` field. {exc}")
            ) from None
    _check_status(campaign, "sent", SENDABLE)
    try:
        services.campaign_send(
            campaign=campaign, scheduled_at=scheduled_at, user=api_key_actor(request.auth)
        )
    except ValidationError as exc:
        campaign.refresh_from_db()
        _check_status(campaign, "sent", SENDABLE)  # sent meanwhile, by someone else
        raise _refusal_of(exc) from None
    return campaign_object(campaign)


@router.post(
    "/campaigns/{campaign_id}/pause",
    response={200: CampaignObject, **_errors(404, 422)},
    by_alias=True,
    summary="Pause a sending campaign",
)
def pause_campaign(request: HttpRequest, campaign_id: str) -> dict[str, Any]:
    return _step(request, campaign_id, "paused", PAUSABLE, services.campaign_pause)


@router.post(
    "/campaigns/{campaign_id}/resume",
    response={200: CampaignObject, **_errors(404, 422)},
    by_alias=True,
    summary="Resume a paused campaign",
)
def resume_campaign(request: HttpRequest, campaign_id: str) -> dict[str, Any]:
    return _step(request, campaign_id, "resumed", RESUMABLE, services.campaign_resume)


@router.post(
    "/campaigns/{campaign_id}/cancel",
    response={200: CampaignObject, **_errors(404, 422)},
    by_alias=True,
    summary="Cancel a campaign: its unsent messages are cancelled",
)
def cancel_campaign(request: HttpRequest, campaign_id: str) -> dict[str, Any]:
    return _step(request, campaign_id, "cancelled", CANCELLABLE, services.campaign_cancel)


def _campaign(campaign_id: str) -> Campaign:
    campaign = selectors.api_campaign(campaign_id)
    if campaign is None:
        raise ApiRefused(errors.not_found("Campaign not found."))
    return campaign


def _step(
    request: HttpRequest,
    campaign_id: str,
    done: str,
    allowed: Sequence[str],
    service: Callable[..., Any],
) -> dict[str, Any]:
    campaign = _campaign(campaign_id)
    _check_status(campaign, done, allowed)
    try:
        service(campaign=campaign, actor=api_key_actor(request.auth))
    except ValidationError as exc:
        # The service's conditional update lost a race: say what the status is now.
        campaign.refresh_from_db()
        _check_status(campaign, done, allowed)
        raise _refusal_of(exc) from None
    return campaign_object(campaign)


def _check_status(campaign: Campaign, done: str, allowed: Sequence[str]) -> None:
    if campaign.status in allowed:
        return
    only = " or ".join(str(s) for s in allowed)
    never_twice = " (a campaign is never sent twice)" if done == "sent" else ""
    raise ApiRefused(
        errors.validation_error(
            f"The campaign is {campaign.status}; it cannot be {done}: only a {only} campaign "
            f"can{never_twice}."
        )
    )


def _refusal_of(exc: ValidationError) -> ApiRefused:
    """A service's refusal (campaign_send's: no audience, no unsubscribe link, a sender not
    allowed, a time in the past …) in Resend's shape, with the service's own words."""
    if not hasattr(exc, "error_dict"):
        return ApiRefused(errors.validation_error(" ".join(exc.messages)))
    parts = []
    for field, problems in exc.error_dict.items():
        text = " ".join(m for e in problems for m in e.messages)
        parts.append(f"Invalid `scheduled_at` field. {text}" if field == "scheduled_at" else text)
    return ApiRefused(errors.validation_error(" ".join(parts)))
