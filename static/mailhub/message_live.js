// A message's admin page, while the message is pending (queued, scheduled, sending): every few
// seconds, fetch the page again and swap in its #message-live part and its buttons, so the
// status, timeline and content follow the worker without a full reload. Stops once the
// message is no longer pending, after an error, or when the page is left.
(function () {
  "use strict";
  var INTERVAL = 3000;
  function live() { return document.getElementById("message-live"); }
  function refresh() {
    var current = live();
    if (!current || !current.hasAttribute("data-pending")) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("message-live");
        if (!fresh) { return; }
        var open = Array.prototype.map.call(current.querySelectorAll("details[open][id]"), function (d) { return d.id; });
        current.replaceWith(fresh);
        open.forEach(function (id) { var d = document.getElementById(id); if (d) { d.open = true; } });
        var tools = document.querySelector(".object-tools"), freshTools = doc.querySelector(".object-tools");
        if (tools && freshTools) { tools.replaceWith(freshTools); }
        if (window.mailhubLocalTimes) { window.mailhubLocalTimes(fresh); }
        schedule();
      })
      .catch(function () { /* the page stays as it is; a reload tries again */ });
  }
  function schedule() {
    var current = live();
    if (current && current.hasAttribute("data-pending")) { window.setTimeout(refresh, INTERVAL); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", schedule);
  } else {
    schedule();
  }
})();
