/* mailhub's dashboard: draws the status JSON (mailhub/status) and refreshes it every few
 * seconds from /admin/status.json, without reloading the page. No library: DOM built with
 * textContent (never innerHTML with data), the chart as inline SVG. Times arrive as ISO 8601
 * in UTC and are shown in the viewer's time zone. Controls are drawn only where the page's
 * `can` says the user may use them; the server checks every POST again. */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("mailhub-dashboard-data").textContent);
  const can = boot.can;
  const urls = boot.urls;
  const root = document.getElementById("content-main");
  const SVG = "http://www.w3.org/2000/svg";
  let timer = null;

  // --- small helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  const number = new Intl.NumberFormat();
  const fmt = (n) => number.format(n);
  const capped = (c) => fmt(c.count) + (c.capped ? "+" : "");

  function when(iso) {
    if (!iso) return "–";
    const date = new Date(iso);
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }

  // The admin's shared local time (static/mailhub/local_time.js rewrites it after each draw).
  function timeTag(iso) {
    return iso ? el("time", { class: "mh-time", datetime: iso, title: iso, text: when(iso) }) : "–";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function secondsUntil(iso, now) {
    return iso ? Math.max((new Date(iso) - now) / 1000, 0) : null;
  }

  function fill(id, ...children) {
    const box = document.getElementById(id);
    box.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  }

  function table(headers, rows, empty) {
    if (!rows.length) return el("p", { class: "mh-empty", text: empty });
    const head = el("tr", {}, ...headers.map(([text, cls]) => el("th", { class: cls, scope: "col", text })));
    return el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows));
  }

  // The admin's shared badge (queueing/badges.py, static/mailhub/badges.css): same classes.
  function badge(text, tone) {
    return el("span", { class: "mh-badge mh-badge--" + tone, text });
  }
  // campaigns/badges.py CAMPAIGN_TONES, for the statuses the dashboard lists.
  const CAMPAIGN_TONES = { scheduled: "info", sending: "progress", paused: "warning" };

  // --- controls ------------------------------------------------------------------------

  function csrf() {
    return document.querySelector("#mh-csrf input[name=csrfmiddlewaretoken]").value;
  }

  function notice(text, ok) {
    const box = document.getElementById("mh-notice");
    box.textContent = text;
    box.className = "mh-notice" + (ok ? "" : " mh-error");
    box.hidden = false;
  }

  // A real form (it works without the script too); the script posts it and refreshes.
  function control(action, label, opts) {
    const o = opts || {};
    const form = el("form", { method: "post", action, class: o.formClass });
    form.append(el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrf() }));
    for (const field of o.fields || []) form.append(field);
    form.append(el("input", { type: "submit", value: label, class: o.danger ? "mh-danger" : null, "data-action": o.name }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (o.confirm && !window.confirm(o.confirm)) return;
      const button = form.querySelector("input[type=submit]");
      button.disabled = true;
      try {
        const answer = await fetch(action, {
          method: "POST",
          body: new FormData(form),
          headers: { Accept: "application/json", "X-CSRFToken": csrf() },
          credentials: "same-origin",
        });
        const data = await answer.json().catch(() => ({ ok: false, message: "Error " + answer.status }));
        notice(data.message, answer.ok && data.ok);
      } catch (error) {
        notice("The request failed: " + error, false);
      }
      button.disabled = false;
      refresh();
    });
    return form;
  }

  const withId = (template, id) => template.replace("/0/", "/" + id + "/");

  // --- sections ------------------------------------------------------------------------

  // The section is redrawn on every refresh; while someone types a pause reason it is left
  // alone (unless the pauses themselves changed), or the text and the focus would be lost.
  let drawnPauses = null;
  function drawSending(s, now) {
    const pauses = JSON.stringify([s.pauses, s.domain_pauses]);
    const reason = document.querySelector("#mh-sending-body input[name=reason]");
    const typing = reason && (reason.value !== "" || reason === document.activeElement);
    if (typing && pauses === drawnPauses) return;
    drawnPauses = pauses;
    const parts = [];
    if (!s.pauses.length) {
      parts.push(el("p", { class: "mh-banner" }, badge("Sending", "success"), " Workers send as the queue fills."));
    }
    for (const p of s.pauses) {
      const until = p.until ? "until " + when(p.until) + " (" + duration(secondsUntil(p.until, now)) + ")" : "until someone resumes it";
      const who = p.source === "operator" ? "Paused by " + (p.by || "an operator") : "Paused automatically (provider)";
      parts.push(el("p", { class: "mh-banner", "data-pause-source": p.source },
        badge("Paused", "danger"), " " + who + ", " + until + ": ", el("q", { text: p.reason })));
    }
    for (const d of s.domain_pauses) {
      parts.push(el("p", {}, badge("Domain held", "warning"), " " + d.domain + " since ", timeTag(d.since), ": " + d.reason));
    }
    if (s.pauses.length) parts.push(el("p", { class: "mh-empty", text: "Messages wait in the queue and lose no attempts." }));
    if (can.pause_sending && urls.resume && s.pauses.length) {
      parts.push(el("div", { class: "mh-controls" }, control(urls.resume, "Resume sending", { name: "resume-sending" })));
    }
    if (can.pause_sending && urls.pause && !s.pauses.some((p) => p.source === "operator")) {
      const reason = el("input", { type: "text", name: "reason", required: true, maxlength: "500", placeholder: "Why sending stops", "aria-label": "Reason for the pause" });
      parts.push(el("div", { class: "mh-controls" }, control(urls.pause, "Pause all sending", {
        name: "pause-sending", danger: true, fields: [reason], formClass: "mh-pause-form",
        confirm: "Stop all sending until someone resumes it?",
      })));
    }
    fill("mh-sending-body", ...parts);
  }

  function tile(label, value, sub, bad, key) {
    return el("div", { class: "mh-tile" + (bad ? " mh-bad" : ""), "data-figure": key },
      el("span", { class: "mh-label", text: label }),
      el("span", { class: "mh-value", text: value }),
      sub ? el("span", { class: "mh-sub", text: sub }) : null);
  }

  function drawTiles(s) {
    const b = s.backlog;
    const t = s.totals;
    const alive = s.workers.filter((w) => w.alive).length;
    fill("mh-tiles",
      tile("Queued · transactional", capped(b.queued.transactional), null, false, "queued-transactional"),
      tile("Queued · bulk", capped(b.queued.bulk), null, false, "queued-bulk"),
      tile("Scheduled", capped(b.scheduled), b.next_scheduled_at ? "next " + when(b.next_scheduled_at) : null, false, "scheduled"),
      tile("Frozen batches waiting", capped(b.frozen_batches_waiting), null, false, "frozen-batches"),
      tile("Oldest queued", duration(b.oldest_queued_age_seconds), null, (b.oldest_queued_age_seconds || 0) > 600, "oldest-queued"),
      tile("Sent · last hour", fmt(t.sent_last_hour), fmt(s.throughput.sent_per_minute_now) + " in the last full minute", false, "sent-hour"),
      tile("Failed · last hour", fmt(t.failed_last_hour), null, t.failed_last_hour > 0, "failed-hour"),
      tile("Sent · today", fmt(t.sent_today), t.day, false, "sent-today"),
      tile("Failed · today", fmt(t.failed_today), t.day, t.failed_today > 0, "failed-today"),
      tile("Workers alive", fmt(alive), s.workers.length - alive ? (s.workers.length - alive) + " not alive" : null, alive === 0, "workers"));
  }

  function drawChart(th) {
    // Drawn at the box's own width, so text is not stretched.
    const w = Math.max(document.getElementById("mh-chart").clientWidth || 600, 300);
    const h = 180, left = 36, bottom = 18, top = 8;
    const n = th.sent.length;
    const peak = Math.max(1, ...th.sent.map((v, i) => v + th.failed[i]));
    const scale = (h - bottom - top) / peak;
    const step = (w - left) / n;
    const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", width: w, height: h,
      "aria-label": `Sent per minute over the last hour; peak ${peak}` });
    chart.append(svg("line", { x1: left, y1: h - bottom, x2: w, y2: h - bottom, class: "mh-axis" }));
    for (const frac of [0.5, 1]) {
      const y = h - bottom - peak * frac * scale;
      chart.append(svg("line", { x1: left, y1: y, x2: w, y2: y, class: "mh-axis", "stroke-dasharray": "2 3" }));
      const label = svg("text", { x: left - 4, y: y + 3, "text-anchor": "end", class: "mh-grid-text" });
      label.textContent = fmt(Math.round(peak * frac));
      chart.append(label);
    }
    th.sent.forEach((sent, i) => {
      const failed = th.failed[i];
      const x = left + i * step + 0.5;
      const bw = Math.max(step - 1.5, 1);
      const hs = sent * scale, hf = failed * scale;
      const title = svg("title", {});
      title.textContent = `${new Date(th.minutes[i]).toLocaleTimeString(undefined, { timeStyle: "short" })}: ${sent} sent, ${failed} failed`;
      const group = svg("g", {});
      group.append(title);
      group.append(svg("rect", { x, y: h - bottom - hs, width: bw, height: hs, class: "mh-bar-sent" }));
      if (failed) group.append(svg("rect", { x, y: h - bottom - hs - hf, width: bw, height: hf, class: "mh-bar-failed" }));
      chart.append(group);
      if (i % 15 === 0 || i === n - 1) {
        const label = svg("text", { x: i === n - 1 ? w : x, y: h - 4, class: "mh-grid-text", "text-anchor": i === n - 1 ? "end" : "start" });
        label.textContent = new Date(th.minutes[i]).toLocaleTimeString(undefined, { timeStyle: "short" });
        chart.append(label);
      }
    });
    fill("mh-chart", chart);
  }

  function drawLimiter(l, now) {
    const wait = secondsUntil(l.next_free_slot_at, now);
    const dl = el("dl", { class: "mh-dl" },
      el("dt", { text: "Rate" }), el("dd", { text: l.rate ? l.rate + " requests/s" : "no limit" }),
      el("dt", { text: "Next free slot" }), el("dd", { text: wait > 0.05 ? "in " + wait.toFixed(1) + " s" : "now" }),
      el("dt", { text: "Held" }), el("dd", {}, l.paused_until ? badge("until " + when(l.paused_until), "danger") : badge("no", "success")));
    fill("mh-limiter", dl, l.pause_reason ? el("p", { class: "mh-empty", text: l.pause_reason }) : null);
  }

  function drawCampaigns(list) {
    const rows = list.map((c) => {
      const fillBar = el("span");
      fillBar.style.width = Math.min(c.percent, 100) + "%";
      const bar = el("div", { class: "mh-progress-wrap" },
        el("div", { class: "mh-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(c.percent) }, fillBar),
        el("span", { class: "mh-percent", text: c.percent.toFixed(0) + " %" }));
      const controls = el("div", { class: "mh-controls" });
      if (can.campaigns && urls.campaign) {
        const base = withId(urls.campaign, c.id);
        if (c.status === "sending") controls.append(control(base, "Pause", { name: "campaign-pause" }));
        if (c.status === "paused") controls.append(control(base.replace(/pause\/$/, "resume/"), "Resume", { name: "campaign-resume" }));
        controls.append(control(base.replace(/pause\/$/, "cancel/"), "Cancel", {
          name: "campaign-cancel", danger: true, confirm: `Cancel campaign “${c.name}”? Its unsent messages are cancelled.`,
        }));
      }
      return el("tr", { "data-campaign": String(c.id) },
        el("td", {}, el("a", { href: withId(urls.campaign_page, c.id), text: c.name })),
        el("td", {}, badge(c.status, CAMPAIGN_TONES[c.status] || "neutral"), c.pause_reason ? el("div", { class: "mh-empty", text: c.pause_reason }) : null),
        el("td", {}, bar),
        el("td", { class: "mh-num", text: `${fmt(c.sent)} of ${fmt(c.total)}` }),
        el("td", { class: "mh-num", text: c.rate_per_second.toFixed(1) + "/s" }),
        el("td", { class: "mh-num", text: duration(c.seconds_left) }),
        el("td", {}, controls));
    });
    fill("mh-campaigns", table(
      [["Campaign"], ["Status"], ["Progress"], ["Sent", "mh-num"], ["Rate", "mh-num"], ["Time left", "mh-num"], [""]],
      rows, "No campaign is sending or paused."));
  }

  function drawWorkers(list) {
    const rows = list.map((w) => el("tr", { "data-worker": w.name },
      el("td", { text: w.name }),
      el("td", {}, badge(w.alive ? w.state : w.state === "gone" ? "gone" : "no heartbeat", w.alive ? "success" : "danger")),
      el("td", {}, timeTag(w.last_heartbeat)),
      el("td", { text: w.queues.join(", ") || "–" }),
      el("td", { class: "mh-num", text: fmt(w.holding.messages + w.holding.batch_messages) }),
      el("td", { class: "mh-num", text: fmt(w.holding.batches) }),
      el("td", {}, timeTag(w.holding.lease_expires_at))));
    fill("mh-workers", table(
      [["Worker"], ["State"], ["Last heartbeat"], ["Queues"], ["Messages held", "mh-num"], ["Batches", "mh-num"], ["Lease ends"]],
      rows, "No worker is registered: nothing is being sent. Start one with manage.py rqworker transactional events bulk --with-scheduler."));
  }

  function drawFailures(list) {
    const rows = list.map((f) => {
      const cell = el("td", {});
      if (can.retry && urls.retry && !f.retry_refusal) {
        cell.append(control(withId(urls.retry, f.id), "Retry", { name: "retry" }));
      } else if (f.retry_refusal) {
        cell.append(el("span", { class: "mh-empty", title: f.retry_refusal, text: "not retryable" }));
      }
      return el("tr", { "data-message": String(f.id) },
        el("td", {}, el("a", { href: withId(urls.message, f.id), text: "#" + f.id })),
        el("td", { text: f.to.join(", ") }),
        el("td", { text: f.subject }),
        el("td", { text: f.failure_code || "–" }),
        el("td", { class: "mh-error", text: f.error }),
        el("td", {}, timeTag(f.updated_at)),
        cell);
    });
    fill("mh-failures", table(
      [["Message"], ["To"], ["Subject"], ["Code"], ["Error"], ["Failed"], [""]],
      rows, "No failed message."));
  }

  function draw(s) {
    const now = new Date();
    drawSending(s, now);
    drawTiles(s);
    drawChart(s.throughput);
    drawLimiter(s.limiter, now);
    drawCampaigns(s.campaigns);
    drawWorkers(s.workers);
    drawFailures(s.failures);
    const updated = document.getElementById("mh-updated");
    updated.textContent = "Updated " + when(s.generated_at);
    updated.classList.remove("mh-stale");
    if (window.mailhubLocalTimes) window.mailhubLocalTimes(root);
    root.dataset.loaded = String(Number(root.dataset.loaded) + 1);
  }

  // One refresh at a time: a button or a tab switch during a fetch must not start a second
  // polling loop beside the first; it asks for one more refresh right after this one.
  let fetching = false;
  let again = false;
  async function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    clearTimeout(timer);
    try {
      const answer = await fetch(urls.status, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (answer.redirected || answer.status === 401 || answer.status === 403) {
        window.location.reload(); // signed out: the admin shows its login page
        return;
      }
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      draw(await answer.json());
    } catch (error) {
      const updated = document.getElementById("mh-updated");
      updated.textContent = "Not updated (" + error.message + "); trying again";
      updated.classList.add("mh-stale");
    }
    fetching = false;
    if (again) {
      again = false;
      refresh();
      return;
    }
    timer = setTimeout(refresh, boot.refresh_seconds * 1000);
  }

  draw(boot.status);
  timer = setTimeout(refresh, boot.refresh_seconds * 1000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
})();
