"""The campaign endpoints' request and answer shapes (campaigns/api.py). They validate the
requests and are the OpenAPI description, so the two cannot drift.

Shaped like Resend's broadcasts where the ideas meet (`object`, `id` as text, a list with
`has_more`, `POST …/send` with an optional `scheduled_at`); a campaign's own words otherwise
(statuses are mailhub's: draft, scheduled, sending, paused, sent, cancelled).
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from campaigns.models import Campaign
from queueing.api_schemas import resend_refusal
from queueing.resend import errors
from queueing.selectors import DEFAULT_PAGE, MAX_PAGE


class SendCampaign(BaseModel):
    """POST /campaigns/{id}/send: no body (or `{}`) sends now; `scheduled_at` schedules."""

    model_config = ConfigDict(extra="forbid")
    scheduled_at: str | None = Field(
        None,
        description="When to start: ISO 8601 with a time zone, or a plain form such as "
        "`in 1 hour` or `tomorrow at 9am` (the forms of POST /emails; see docs/API.md). "
        "A time that has come (or `now`) sends now.",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise resend_refusal(
                    errors.validation_error(
                        f"Unknown field `{unknown[0]}`. Only `scheduled_at` can be given."
                    )
                )
        return data


class CampaignListQuery(BaseModel):
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    after: str | None = Field(None, description="A campaign id: the page after it (older).")
    before: str | None = Field(None, description="A campaign id: the page before it (newer).")


# --- answers ---


class CampaignProgress(BaseModel):
    audience: int = Field(description="People counted when it was sent or scheduled.")
    total: int = Field(description="Messages it will have: the larger of audience and queued.")
    queued: int = Field(description="Messages written by the fan-out so far.")
    sent: int
    failed: int
    suppressed: int
    cancelled: int
    done: int = Field(description="sent + failed + suppressed + cancelled.")
    pending: int = Field(description="Written and not final yet.")
    percent: float = Field(description="done of total, in percent.")
    per_second: float = Field(description="Messages finished per second since it started.")
    eta_seconds: int | None = Field(description="About how long is left, while sending.")
    fanout_finished: bool = Field(description="Every message has been written.")


class CampaignEngagement(BaseModel):
    """From Resend's webhooks."""

    delivered: int
    bounced: int
    opened: int
    clicked: int


class CampaignRates(BaseModel):
    """Percentages: failed and suppressed of the finished messages; the rest of the sent."""

    failed: float
    suppressed: float
    delivered: float
    bounced: float
    opened: float
    clicked: float


class CampaignObject(BaseModel):
    object: Literal["campaign"] = "campaign"
    id: str
    name: str
    status: Literal[tuple(Campaign.Status.values)]  # type: ignore[valid-type]
    template: str | None = Field(description="The template's slug.")
    subject: str = Field(description="As frozen once sent; before that, as it would be.")
    from_: str = Field(alias="from")
    reply_to: str | None
    lists: list[str] = Field(description="The audience's lists, by slug.")
    attribute_filter: dict[str, Any]
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    progress: CampaignProgress
    engagement: CampaignEngagement
    rates: CampaignRates


class CampaignList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[CampaignObject]
