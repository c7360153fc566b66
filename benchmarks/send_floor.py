"""The send path's floor: the writes mailhub must do to send, and no more, without the ORM or RQ.

Imported by benchmarks/send_vs_floor.py, which runs it in the same run as mailhub's workers
and prints the ratio. PostgreSQL only. `run_floor` starts N processes (multiprocessing, fork),
each with one raw psycopg connection to the same database, looping until nothing is due:

1. claim up to 100 due messages of the priority, oldest first, in one statement: `WITH picked
   AS MATERIALIZED (SELECT id … FOR UPDATE SKIP LOCKED LIMIT 100) UPDATE … SET status =
   'sending', claim token, lease, attempt … RETURNING` what the request body needs (the same
   claim columns mailhub sets; the pick starts after the last id this process claimed, as
   mailhub's does, so it does not walk the dead index entries of rows claimed before);
2. campaign messages: read the batch's recipients (one query) and render each with Django's
   template engine and mjml-python, from the campaign's frozen content with its postal-address
   footer and derived text (the sources mailhub compiles), one render per recipient of body,
   text and subject joined, with the same per-recipient context and List-Unsubscribe headers;
   transactional messages: nothing (their content is stored);
3. one POST /emails/batch through the `resend` package with a keep-alive `requests` session,
   an Idempotency-Key and permissive batch validation (what queueing/resend/client.py does);
4. one transaction: each row to `sent` with its provider id and sent_at (one `UPDATE … FROM
   (VALUES …)`, guarded by the claim token), one `sent` timeline event per message (one
   multi-row INSERT), and one counter update (the campaign's `sent`, or for transactional
   mail the day's `sent` in campaigns_dailystats).

What it leaves out is what mailhub does beyond that: consent and suppression checks, render
budgets, a frozen SendBatch row and the rendered body stored before the call (byte-identical
retries), the shared rate limiter, pauses, metrics, logs, the daily figures beside the
campaign counters, and a fork per RQ job. The frozen content and the link templates of a
campaign are read once, before the processes start (mailhub caches both per process).
"""

import json
import multiprocessing
import resource
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The statements, written once. $n placeholders are psycopg's %s (server-side binding).
CLAIM_SQL = """
WITH picked AS MATERIALIZED (
    SELECT id FROM queueing_message
    WHERE status = 'queued' AND priority = %(priority)s AND batch_id IS NULL
      AND send_alone = false AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
      AND id > %(after)s
    ORDER BY id FOR UPDATE SKIP LOCKED LIMIT %(limit)s
)
UPDATE queueing_message SET status = 'sending', claim_token = %(token)s,
    claimed_by = %(worker)s, lease_expires_at = %(lease)s, updated_at = %(now)s,
    attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, %(now)s)
WHERE id IN (SELECT id FROM picked) AND status = 'queued'
RETURNING id, uuid, from_email, "to", reply_to, subject, html, text, headers, tags,
    campaign_id, recipient_id
"""

RECIPIENTS_SQL = """
SELECT id, email, first_name, last_name, external_id, attributes, unsubscribe_token
FROM recipients_recipient WHERE id = ANY(%s)
"""

EVENT_DETAIL = "accepted by Resend as {} (floor)"


@dataclass(frozen=True)
class CampaignSpec:
    """What rendering needs of one campaign, read once before the clock."""

    source: str  # body, text and subject joined by SEPARATOR (one render per recipient)
    name: str
    unsubscribe: str  # link templates with PLACEHOLDER where the recipient's token goes
    preferences: str
    headers: dict[str, str]
    placeholder: str
    postal_address: str
    body_is_mjml: bool


SEPARATOR = "\x00floor-part\x00"


@dataclass
class ProcessReport:
    sent: int = 0
    requests: int = 0
    first_claim: float | None = None  # time.time()
    last_answer: float | None = None
    cpu: float = 0.0
    error: str = ""


@dataclass
class FloorResult:
    sent: int
    requests: int
    first_claim: float
    last_answer: float
    cpu: float  # the floor processes' own CPU, first claim to exit


def campaign_spec(campaign) -> CampaignSpec:
    """The campaign's frozen sources as mailhub compiles them (template plus footer, derived
    text), and its link templates (signed once per campaign, as mailhub does per group)."""
    from django.conf import settings

    from campaigns.models import BodyFormat
    from campaigns.rendering import PLACEHOLDER, links_for
    from campaigns.selectors import campaign_content
    from campaigns.templating import _with_footer

    content = campaign_content(campaign)
    body, text = _with_footer(content)
    lists = list(campaign.lists.all())
    links = links_for(lists[0] if len(lists) == 1 else None, campaign.pk)
    return CampaignSpec(
        source=(
            f"{body}{SEPARATOR}{{% autoescape off %}}{text}{SEPARATOR}{content.subject}"
            "{% endautoescape %}"
        ),
        name=campaign.name,
        unsubscribe=links.unsubscribe,
        preferences=links.preferences,
        headers=links.headers,
        placeholder=PLACEHOLDER,
        postal_address=settings.MAILHUB_POSTAL_ADDRESS,
        body_is_mjml=content.body_format == BodyFormat.MJML,
    )


def run_floor(
    *,
    priority: str,
    database_url: str,
    api_url: str,
    api_key: str,
    campaigns: dict[int, CampaignSpec] | None = None,
    processes: int = 2,
    batch: int = 100,
) -> FloorResult:
    """Send every due message of `priority` the floor's way with `processes` processes."""
    from django.db import connections

    connections.close_all()  # nothing of Django's crosses the fork
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    children = [
        ctx.Process(
            target=_child,
            args=(results, f"floor-{n}", priority, database_url, api_url, api_key),
            kwargs={"campaigns": campaigns or {}, "batch": batch},
        )
        for n in range(processes)
    ]
    for child in children:
        child.start()
    reports = [results.get() for _ in children]
    for child in children:
        child.join()
    failed = [r.error for r in reports if r.error]
    if failed:
        raise RuntimeError(f"a floor process failed: {failed[0]}")
    return FloorResult(
        sent=sum(r.sent for r in reports),
        requests=sum(r.requests for r in reports),
        first_claim=min(r.first_claim for r in reports if r.first_claim),
        last_answer=max(r.last_answer for r in reports if r.last_answer),
        cpu=sum(r.cpu for r in reports),
    )


def _child(results, worker: str, priority: str, database_url: str, api_url: str, api_key: str,
           *, campaigns: dict[int, CampaignSpec], batch: int) -> None:  # fmt: skip
    report = ProcessReport()
    try:
        _loop(report, worker, priority, database_url, api_url, api_key, campaigns, batch)
    except BaseException as exc:  # reported to the parent, which raises it
        report.error = f"{type(exc).__name__}: {exc}"
    results.put(report)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loop(report: ProcessReport, worker: str, priority: str, database_url: str, api_url: str,
          api_key: str, campaigns: dict[int, CampaignSpec], batch: int) -> None:  # fmt: skip
    import psycopg
    import resend

    resend.api_key, resend.api_url = api_key, api_url
    resend.default_http_client = _session_client()
    conn = psycopg.connect(_conninfo(database_url), autocommit=True)
    renderers: dict[int, _Renderer] = {}
    cpu_before = _cpu()
    after = 0
    report.first_claim = time.time()
    while True:
        token = uuid.uuid4()
        rows = _claim(conn, priority, token, worker, after, batch)
        if not rows and after:
            after = 0
            rows = _claim(conn, priority, token, worker, after, batch)
        if not rows:
            break
        after = rows[-1][0]
        if any(row[10] for row in rows):
            payloads = _rendered(conn, rows, campaigns, renderers)
        else:
            payloads = [_stored_payload(row) for row in rows]
        answer = resend.Batch.send(
            payloads,
            {"idempotency_key": f"floor-batch-{uuid.uuid4()}", "batch_validation": "permissive"},
        )
        ids = [item["id"] for item in answer["data"]]
        if len(ids) != len(rows) or answer.get("errors"):
            raise RuntimeError(f"the sandbox refused part of a batch: {answer.get('errors')}")
        _record(conn, rows, ids, token, campaign_id=rows[0][10])
        report.sent += len(rows)
        report.requests += 1
        report.last_answer = time.time()
    report.cpu = _cpu() - cpu_before
    conn.close()


def _conninfo(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _claim(conn, priority: str, token: uuid.UUID, worker: str, after: int, limit: int) -> list:
    now = datetime.now(UTC)
    params = {
        "priority": priority,
        "now": now,
        "after": after,
        "limit": limit,
        "token": token,
        "worker": worker,
        "lease": now + timedelta(seconds=300),
    }
    rows = conn.execute(CLAIM_SQL, params).fetchall()
    rows.sort(key=lambda row: row[0])
    return rows


def _tags(row) -> list[dict[str, str]]:
    tags = [{"name": "mailhub_message", "value": str(row[1])}]
    if row[10]:
        tags.append({"name": "mailhub_campaign", "value": str(row[10])})
    return tags + list(row[9])


def _stored_payload(row) -> dict:
    _, _, from_email, to, reply_to, subject, html, text, headers, _, _, _ = row
    body = {"from": from_email, "to": to, "subject": subject}
    for key, value in (("reply_to", reply_to), ("html", html), ("text", text),
                       ("headers", {k: headers[k] for k in sorted(headers)}),
                       ("tags", _tags(row))):  # fmt: skip
        if value:
            body[key] = value
    return body


class _Attributes(dict):
    """A dict whose dir() is empty: Django's lookup of a missing key calls dir() on it."""

    __slots__ = ()

    def __dir__(self) -> list[str]:
        return []


class _Renderer:
    def __init__(self, spec: CampaignSpec, campaign_id: int) -> None:
        from django.template import Engine

        self.spec = spec
        self.template = Engine(autoescape=True).from_string(spec.source)
        self.campaign = {"id": campaign_id, "name": spec.name}

    def render(self, row, person) -> dict:
        from django.template import Context
        from mjml import mjml2html

        spec = self.spec
        _, email, first_name, last_name, external_id, attributes, token = person
        context = {
            "recipient": {
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "full_name": f"{first_name} {last_name}".strip(),
                "external_id": external_id or "",
                "attributes": _Attributes(attributes or {}),
            },
            "campaign": self.campaign,
            "unsubscribe_url": spec.unsubscribe.replace(spec.placeholder, token),
            "preferences_url": spec.preferences.replace(spec.placeholder, token),
            "postal_address": spec.postal_address,
        }
        body, text, subject = self.template.render(Context(context)).split(SEPARATOR)
        headers = {k: v.replace(spec.placeholder, token) for k, v in spec.headers.items()}
        payload = {
            "from": row[2],
            "to": row[3],
            "subject": " ".join(subject.split()),
            "html": mjml2html(body) if spec.body_is_mjml else body,
            "text": text.strip(),
            "headers": {k: headers[k] for k in sorted(headers)},
            "tags": _tags(row),
        }
        if row[4]:
            payload["reply_to"] = row[4]
        return payload


def _rendered(conn, rows: list, campaigns: dict[int, CampaignSpec], renderers: dict) -> list:
    people = {
        person[0]: person
        for person in conn.execute(RECIPIENTS_SQL, [[row[11] for row in rows]]).fetchall()
    }
    payloads = []
    for row in rows:
        renderer = renderers.get(row[10])
        if renderer is None:
            renderer = renderers[row[10]] = _Renderer(campaigns[row[10]], row[10])
        payloads.append(renderer.render(row, people[row[11]]))
    return payloads


def _record(conn, rows: list, ids: list[str], token: uuid.UUID, *, campaign_id: int | None) -> None:
    now = datetime.now(UTC)
    values = ", ".join(["(%s::bigint, %s::text)"] * len(rows))
    events = ", ".join(["(%s, 'sent', '', %s, %s::jsonb, %s)"] * len(rows))
    with conn.transaction():
        changed = conn.execute(
            "UPDATE queueing_message m SET status = 'sent', provider_id = v.pid, sent_at = %s, "
            "updated_at = %s, claim_token = NULL, lease_expires_at = NULL "
            f"FROM (VALUES {values}) AS v(id, pid) "
            "WHERE m.id = v.id AND m.claim_token = %s AND m.status = 'sending'",
            [
                now,
                now,
                *(p for row, pid in zip(rows, ids, strict=True) for p in (row[0], pid)),
                token,
            ],
        ).rowcount
        if changed != len(rows):
            raise RuntimeError(f"recorded {changed} of {len(rows)} claimed rows")
        conn.execute(
            "INSERT INTO queueing_messageevent (message_id, kind, provider_event, detail, data, "
            f"created_at) VALUES {events}",
            [
                p
                for row, pid in zip(rows, ids, strict=True)
                for p in (row[0], EVENT_DETAIL.format(pid), json.dumps({"provider_id": pid}), now)
            ],
        )
        if campaign_id:
            conn.execute(
                "UPDATE campaigns_campaign SET sent = sent + %s WHERE id = %s",
                [len(rows), campaign_id],
            )
        else:
            conn.execute(
                "INSERT INTO campaigns_dailystats (date, sent, delivered, bounced, complained, "
                "opened, clicked, failed, unsubscribed) VALUES (%s, %s, 0, 0, 0, 0, 0, 0, 0) "
                "ON CONFLICT (date) DO UPDATE SET sent = campaigns_dailystats.sent + EXCLUDED.sent",
                [now.date(), len(rows)],
            )


def _session_client():
    """The resend package's HTTP client hook with one keep-alive session (as mailhub's)."""
    import requests
    import resend

    class SessionClient(resend.HTTPClient):
        def __init__(self) -> None:
            self.session = requests.Session()

        def request(self, method, url, headers, json=None, files=None, data=None):
            resp = self.session.request(method, url, headers=headers, json=json, timeout=(5, 30))
            return resp.content, resp.status_code, resp.headers

    return SessionClient()
