"""The system's status as plain-text tables, for `manage.py mailhub_status`."""

from datetime import datetime

from django.utils import timezone

from mailhub.status.figures import SystemStatus


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers).rstrip(), "  ".join("-" * w for w in widths)]
    out += [line.format(*map(str, row)).rstrip() for row in rows]
    return out


def status_text(status: SystemStatus) -> str:
    b, t, lim = status.backlog, status.totals, status.limiter
    out = [f"mailhub status at {_when(status.generated_at)}", ""]

    if status.pauses:
        for p in status.pauses:
            until = f"until {_when(p.until)}" if p.until else "until resumed"
            by = f" by {p.by}" if p.by else ""
            out.append(f"SENDING PAUSED ({p.source}{by}, {until}): {p.reason}")
    else:
        out.append("Sending: on")
    for d in status.domain_pauses:
        out.append(f"Sender domain paused: {d.domain} since {_when(d.since)}: {d.reason}")
    out.append("")

    out.append("Backlog")
    out += table(
        ["queued transactional", "queued bulk", "scheduled", "frozen batches", "oldest queued"],
        [
            [
                str(b.queued.get("transactional", "-")),
                str(b.queued.get("bulk", "-")),
                str(b.scheduled),
                str(b.frozen_batches_waiting),
                _duration(b.oldest_queued_age_seconds),
            ]
        ],
    )
    out.append("")

    out.append("Sent and failed")
    out += table(
        ["", "sent", "failed"],
        [
            ["last hour", f"{t.sent_last_hour:,}", f"{t.failed_last_hour:,}"],
            [f"today ({t.day})", f"{t.sent_today:,}", f"{t.failed_today:,}"],
            [
                "last full minute",
                f"{status.throughput.sent_per_minute_now:,}",
                f"{status.throughput.failed[-2] if len(status.throughput.failed) > 1 else 0:,}",
            ],
        ],
    )
    out.append("")

    rate = f"{lim.rate:g} requests/s" if lim.rate else "no limit"
    held = f"; held until {_when(lim.paused_until)}: {lim.pause_reason}" if lim.paused_until else ""
    out.append(f"Rate limiter: {rate}; next free slot {_when(lim.next_free_slot_at)}{held}")
    out.append("")

    out.append(f"Workers ({sum(w.alive for w in status.workers)} alive)")
    out += table(
        ["name", "state", "alive", "last heartbeat", "messages", "batches", "lease ends"],
        [
            [
                w.name,
                w.state,
                "yes" if w.alive else "NO",
                _when(w.last_heartbeat),
                f"{w.holding.messages + w.holding.batch_messages:,}",
                f"{w.holding.batches:,}",
                _when(w.holding.lease_expires_at),
            ]
            for w in status.workers
        ]
        or [["(none)", "", "", "", "", "", ""]],
    )
    out.append("")

    out.append("Campaigns in flight")
    out += table(
        ["id", "name", "status", "sent", "of", "done", "rate/s", "time left"],
        [
            [
                str(c.id),
                c.name[:40],
                c.status,
                f"{c.sent:,}",
                f"{c.total:,}",
                f"{c.percent:.0f}%",
                f"{c.rate_per_second:,.1f}",
                _duration(c.seconds_left),
            ]
            for c in status.campaigns
        ]
        or [["(none)", "", "", "", "", "", "", ""]],
    )
    out.append("")

    out.append("Latest failures")
    out += table(
        ["id", "to", "code", "error"],
        [
            [str(f.id), ", ".join(f.to)[:40], f.failure_code or "-", f.error[:70]]
            for f in status.failures
        ]
        or [["(none)", "", "", ""]],
    )
    return "\n".join(out)
