// A campaign's admin page: follow its progress without reloading (its times are shown in the
// viewer's zone by the admin's shared static/mailhub/local_time.js). The JSON comes from the
// campaign admin's progress view, which checks the viewer may see the campaign. When the status changes (sent, paused elsewhere…), the page
// is loaded once more, since its controls differ.
(function () {
  "use strict";
  var POLL_MS = 2000;

  function set(panel, name, value) {
    var el = panel.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = value;
  }

  function show(panel, data) {
    var bar = panel.querySelector(".mh-progress");
    if (bar) {
      bar.setAttribute("aria-valuenow", Math.floor(data.percent));
      bar.querySelector("span").style.width = data.percent + "%";
    }
    var n = function (x) { return x.toLocaleString(); };
    set(panel, "sent", n(data.sent));
    set(panel, "total", n(data.total));
    set(panel, "percent", Math.floor(data.percent));
    set(panel, "failed", n(data.failed));
    set(panel, "suppressed", n(data.suppressed));
    set(panel, "cancelled", n(data.cancelled));
    set(panel, "rate", data.rate.toFixed(1));
    set(panel, "eta", data.eta_text || "—");
  }

  function follow(panel) {
    var url = panel.getAttribute("data-progress-url");
    var status = panel.getAttribute("data-status");
    if (!url) return;
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          show(panel, data);
          if (data.status !== status) { window.location.reload(); return; }
          setTimeout(poll, POLL_MS);
        })
        .catch(function () { setTimeout(poll, POLL_MS * 3); });  // e.g. a restart: try again
    }
    setTimeout(poll, POLL_MS);
  }

  function confirmDanger() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmDanger();
    var panel = document.getElementById("campaign-panel");
    if (panel) follow(panel);
  });
})();
